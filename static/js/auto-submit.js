// Submit forms marked data-auto-submit (the SAML HTTP-POST binding) without an inline script,
// so the strict Content-Security-Policy stays intact. Without JavaScript the visible button works.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-submit]");
  if (form) {
    form.submit();
  }
});
