from django.db import models
from django.utils.translation import gettext_lazy as _

from . import validators

# The service name under which eHerkenning machtigingen for this portal are issued: users quote it to
# their eHerkenning supplier, so every page, letter, e-mail and the SAML metadata say exactly this
# (issue 17). A proper name, the same in every language.
EHERKENNING_SERVICE_NAME = "Mijn DUO voor zakelijke klanten"


class OrganisatieType(models.TextChoices):
    ONDERWIJSINSTELLING = "onderwijsinstelling", _("Onderwijsinstelling")
    BESTUUR = "bestuur", _("Bestuur")
    GEMEENTE = "gemeente", _("Gemeente")
    DEURWAARDER = "deurwaarder", _("Deurwaarder")
    ANDERS = "anders", _("Other")


KENMERK_VALIDATORS = {
    "instellingscode": validators.validate_instellingscode,
    "vestigingscode": validators.validate_vestigingscode,
    "bestuursnummer": validators.validate_bestuursnummer,
    "gemeentecode": validators.validate_gemeentecode,
    "rmc_regio": validators.validate_rmc_regio,
    "crediteurnummer": validators.validate_crediteurnummer,
    "kvk_nummer": validators.validate_kvk_nummer,
}


class AuditResult(models.TextChoices):
    SUCCESS = "success", _("success")
    FAILURE = "failure", _("failure")
    REFUSED = "refused", _("refused")


class AuditAction(models.TextChoices):
    """Every security event the audit trail knows. Add new ones here (no migration needed)."""

    # accounts and catalogue
    ACCOUNT_CREATE = "account.create", _("account registered")
    ACCOUNT_UPDATE = "account.update", _("account changed")
    ACCOUNT_REMOVE = "account.remove", _("account removed")
    ORGANISATIE_CREATE = "organisatie.create", _("organisation created")
    ORGANISATIE_UPDATE = "organisatie.update", _("organisation changed")
    BEHEERAUTORISATIE_GRANT = "beheerautorisatie.grant", _("beheerautorisatie granted")
    BEHEERAUTORISATIE_REVOKE = "beheerautorisatie.revoke", _("beheerautorisatie revoked")
    ROL_GRANT = "rol.grant", _("role granted")
    ROL_REVOKE = "rol.revoke", _("role revoked")
    EMAIL_QUEUED = "email.queued", _("e-mail queued")
    EMAIL_SENT = "email.sent", _("e-mail sent")
    EMAIL_FAILED = "email.failed", _("e-mail failed")
    # helpdesk
    ADMIN_LOGIN = "admin.login", _("helpdesk login")
    ADMIN_LOGIN_FAILED = "admin.login_failed", _("helpdesk login failed")
    ADMIN_LOGOUT = "admin.logout", _("helpdesk logout")
    ADMIN_CHANGE = "admin.change", _("helpdesk change")
    TOTP_ENROL = "admin.totp_enrol", _("TOTP device enrolled")
    AUDIT_EXPORT = "audit.export", _("audit trail exported")
    PASSKEY_LINK = "admin.passkey_link", _("passkey enrolment link issued")
    PASSKEY_ENROL = "admin.passkey_enrol", _("passkey enrolled")
    # eHerkenning and koppeling
    SAML_LOGIN = "saml.login", _("eHerkenning login")
    SAML_FAILED = "saml.failed", _("eHerkenning response refused")
    SAML_METADATA_REFRESH = "saml.metadata_refresh", _("eHerkenning broker metadata refreshed")
    LOGOUT = "logout", _("logout")
    SESSION_EXPIRED = "session.expired", _("session expired")
    KOPPEL_ATTEMPT = "koppel.attempt", _("koppel attempt")
    KOPPEL_BLOCKED = "koppel.blocked", _("koppel blocked")
    KOPPEL_UNBLOCK = "koppel.unblock", _("koppel block lifted")
    LINK_CREATE = "link.create", _("link made")
    LINK_UNDO = "link.undo", _("link undone")
    CODE_ISSUED = "code.issued", _("activation code issued")
    TOKEN_LOGIN = "token.login", _("token login")
    TOKEN_LOGIN_FAILED = "token.login_failed", _("token login failed")
    TOKEN_PASSWORD_CHANGE = "token.password_change", _("temporary token password changed")
    TOKEN_USER_REGISTER = "token.register", _("token user registered by the helpdesk")
    TOKEN_USER_IMPORT = "token.import", _("token user imported")
    BEHEERACCOUNT_WITHDRAW = "beheeraccount.withdraw", _("beheer account withdrawn")
    # autorisatiebeheer (beheer app)
    GEBRUIKERSBESTAND_EXPORT = "gebruikersbestand.export", _("user file exported")
    LETTER_DOWNLOAD = "letter.download", _("username letter downloaded")
    LETTER_WRITE = "letter.write", _("username letter written")
    IMPORT_ROW = "import.row", _("registration form imported")
    BULK_UPLOAD = "bulk.upload", _("user file uploaded")
    BULK_REGISTER = "bulk.register", _("users registered from a file")
    BULK_ACTION = "bulk.action", _("action on selected users")
    ACCESS_REVIEW_DECIDE = "access_review.decide", _("access review decision")
    ACCESS_REVIEW_COMPLETE = "access_review.complete", _("access review completed")
    ACCESS_REVIEW_REMINDER = "access_review.reminder", _("access review reminder")
    # OpenID Connect provider (diensten app)
    DIENST_AUTHORIZE = "dienst.authorize", _("hand-off to a DUO service")
    DIENST_TOKEN = "dienst.token", _("token for a DUO service")
    DIENST_USERINFO = "dienst.userinfo", _("user info for a DUO service")
    DIENST_LOGOUT = "dienst.backchannel_logout", _("back-channel logout to a DUO service")
