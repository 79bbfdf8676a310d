"""The rules live in beheer.services: a forged request meets the same refusal as the screen."""

import re

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import USERNAME_ALPHABET, Account, AuditEvent, EmailOutbox, Rol, RolToekenning
from beheer import services
from koppeling.models import Koppeling
from tests.factories import (
    AccountFactory,
    KenmerkFactory,
    KoppelingFactory,
    beheerder_create,
    grant_rol,
    kenmerk_type,
)

pytestmark = pytest.mark.django_db


def _audited(action, account, result="success"):
    return AuditEvent.objects.filter(action=action, object_id=str(account.pk), result=result)


def test_register_generates_an_unambiguous_username_not_derived_from_the_name(beheerder):
    accounts = [
        services.gebruiker_register(beheerder=beheerder, name="Olivia Ijsselstein", email=f"o{i}@s.example")
        for i in range(20)
    ]
    for account in accounts:
        assert re.fullmatch(f"[{USERNAME_ALPHABET}]{{8}}", account.username)
        assert not set(account.username) & set("0O1IL5S2Z8B")
        assert "OLIVIA" not in account.username
        assert account.organisatie_id == beheerder.organisatie_id
        assert account.created_by == beheerder
        assert not account.has_usable_password()
    assert len({a.username for a in accounts}) == 20


def test_register_is_audited_and_queues_the_confirmation_mail(beheerder, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        account = services.gebruiker_register(
            beheerder=beheerder, name="Gijs", email="gijs@school.example", job_title="Docent", phone="050"
        )
    assert _audited("account.create", account).filter(actor_id=beheerder.pk).exists()
    outbox = EmailOutbox.objects.get(account=account, template="beheer/email/registered")
    assert outbox.sent_at is not None
    [message] = mail.outbox
    assert message.to == ["gijs@school.example"]
    assert "Mijn DUO Zakelijk" in message.subject
    # the username travels on paper, never in this mail
    assert account.username not in message.body


def test_confirmation_mail_is_dutch_by_default_and_english_on_request(
    beheerder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.gebruiker_register(beheerder=beheerder, name="Nel", email="nel@s.example")
        services.gebruiker_register(beheerder=beheerder, name="Ed", email="ed@s.example", language="en")
    dutch, english = mail.outbox
    assert "U bent aangemeld" in dutch.subject
    assert "brief met uw gebruikersnaam" in dutch.body
    assert "activatiecode" in dutch.body
    assert "EH3" in dutch.body
    assert "You are registered" in english.subject
    assert "letter with your username" in english.body


def test_register_refuses_a_second_account_with_the_same_email_in_the_organisation(beheerder, gebruiker):
    with pytest.raises(ValidationError) as error:
        services.gebruiker_register(beheerder=beheerder, name="Dubbel", email=gebruiker.email.upper())
    assert "e-mailadres" in str(error.value)


def test_update_changes_details_and_audits_the_field_names(beheerder, gebruiker):
    services.gebruiker_update(beheerder=beheerder, account=gebruiker, name="Gijs de Vries", phone="06 1234")
    gebruiker.refresh_from_db()
    assert (gebruiker.name, gebruiker.phone) == ("Gijs de Vries", "06 1234")
    event = _audited("account.update", gebruiker).get()
    assert event.detail == {"fields": "name,phone"}


def test_update_of_another_organisations_account_is_refused(beheerder, other_gebruiker):
    with pytest.raises(PermissionDenied):
        services.gebruiker_update(beheerder=beheerder, account=other_gebruiker, name="Overgenomen")


def test_assign_a_covered_role_with_own_kenmerk(beheerder, gebruiker, kenmerk):
    toekenning = services.rol_assign(
        beheerder=beheerder, account=gebruiker, rol=Rol.objects.get(code="examensecretaris"), kenmerk=kenmerk
    )
    assert toekenning.granted_by == beheerder
    event = _audited("rol.grant", gebruiker).get()
    assert event.detail["rol_code"] == "examensecretaris"


def test_role_outside_the_beheerders_beheerautorisaties_is_refused(beheerder, gebruiker, kenmerk):
    """A Beheerder VO does not cover the gemeente role RMC, nor the HO role CROHO."""
    for code in ["rmc", "croho", "medewerker_bekostiging"]:
        with pytest.raises(PermissionDenied):
            services.rol_assign(
                beheerder=beheerder, account=gebruiker, rol=Rol.objects.get(code=code), kenmerk=kenmerk
            )
    assert not RolToekenning.objects.filter(account=gebruiker).exists()
    assert _audited("rol.grant", gebruiker, result="refused").count() == 3


def test_kenmerk_of_another_organisation_is_refused(beheerder, gebruiker, other_kenmerk):
    with pytest.raises(PermissionDenied):
        services.rol_assign(
            beheerder=beheerder, account=gebruiker, rol=Rol.objects.get(code="osr"), kenmerk=other_kenmerk
        )
    assert not RolToekenning.objects.filter(account=gebruiker).exists()


def test_kenmerk_of_a_type_the_role_does_not_allow_is_refused(beheerder, gebruiker, organisatie):
    gemeentecode = KenmerkFactory(organisatie=organisatie, type=kenmerk_type("gemeentecode"), waarde="0363")
    with pytest.raises(ValidationError):
        services.rol_assign(
            beheerder=beheerder, account=gebruiker, rol=Rol.objects.get(code="osr"), kenmerk=gemeentecode
        )


def test_assigning_to_an_account_of_another_organisation_is_refused(beheerder, other_gebruiker, kenmerk):
    with pytest.raises(PermissionDenied):
        services.rol_assign(
            beheerder=beheerder, account=other_gebruiker, rol=Rol.objects.get(code="osr"), kenmerk=kenmerk
        )


def test_the_same_role_and_kenmerk_twice_is_a_clear_error(beheerder, gebruiker, kenmerk):
    rol = Rol.objects.get(code="osr")
    services.rol_assign(beheerder=beheerder, account=gebruiker, rol=rol, kenmerk=kenmerk)
    with pytest.raises(ValidationError):
        services.rol_assign(beheerder=beheerder, account=gebruiker, rol=rol, kenmerk=kenmerk)


def test_revoke_is_audited_and_limited_to_covered_roles(beheerder, gebruiker, kenmerk, organisatie):
    covered = grant_rol(gebruiker, "osr", kenmerk)
    services.rol_revoke(beheerder=beheerder, toekenning=covered)
    assert not RolToekenning.objects.filter(pk=covered.pk).exists()
    assert _audited("rol.revoke", gebruiker).exists()
    # a role given by a Beheerder Bekostiging of the same organisation stays out of a Beheerder VO's reach
    bestuur_kenmerk = KenmerkFactory(
        organisatie=organisatie, type=kenmerk_type("bestuursnummer"), waarde="12345"
    )
    not_covered = grant_rol(gebruiker, "medewerker_bekostiging", bestuur_kenmerk)
    with pytest.raises(PermissionDenied):
        services.rol_revoke(beheerder=beheerder, toekenning=not_covered)
    assert RolToekenning.objects.filter(pk=not_covered.pk).exists()


def test_a_beheerder_cannot_remove_himself(beheerder):
    with pytest.raises(ValidationError):
        services.gebruiker_remove(beheerder=beheerder, account=beheerder)
    beheerder.refresh_from_db()
    assert beheerder.removed_at is None and beheerder.is_active


def test_a_beheerder_cannot_remove_another_beheerder(beheerder, organisatie):
    colleague = beheerder_create("bekostiging", organisatie=organisatie)
    with pytest.raises(ValidationError):
        services.gebruiker_remove(beheerder=beheerder, account=colleague)


def test_remove_is_soft_revokes_roles_undoes_the_link_and_is_audited(beheerder, gebruiker, kenmerk):
    grant_rol(gebruiker, "osr", kenmerk)
    koppeling = KoppelingFactory(account=gebruiker)
    services.gebruiker_remove(beheerder=beheerder, account=gebruiker)
    gebruiker.refresh_from_db()
    assert gebruiker.removed_at is not None and not gebruiker.is_active
    assert Account.objects.filter(pk=gebruiker.pk).exists()
    assert not RolToekenning.objects.filter(account=gebruiker).exists()
    assert Koppeling.objects.get(pk=koppeling.pk).ended_at is not None
    assert _audited("account.remove", gebruiker).exists()
    assert _audited("rol.revoke", gebruiker).get().detail["reason"] == "removed"
    # a removed user cannot be changed or given roles any more
    with pytest.raises(ValidationError):
        services.gebruiker_update(beheerder=beheerder, account=gebruiker, name="Terug")


def test_activation_code_request_queues_the_koppel_mail_without_the_code_in_the_row(beheerder, gebruiker):
    outbox = services.activation_code_request(beheerder=beheerder, account=gebruiker)
    assert outbox.template == "koppeling/email/activation_code"
    assert "activation_code" not in outbox.context


def test_activation_code_for_a_linked_user_is_refused(beheerder, gebruiker):
    KoppelingFactory(account=gebruiker)
    with pytest.raises(ValidationError):
        services.activation_code_request(beheerder=beheerder, account=gebruiker)


def test_koppeling_undo_needs_one_of_the_four_reasons(beheerder, gebruiker):
    koppeling = KoppelingFactory(account=gebruiker)
    with pytest.raises(ValidationError):
        services.koppeling_undo(beheerder=beheerder, account=gebruiker, reason="inactive")
    services.koppeling_undo(beheerder=beheerder, account=gebruiker, reason="stolen")
    koppeling.refresh_from_db()
    assert koppeling.ended_reason == "stolen" and koppeling.ended_by == beheerder
    assert AuditEvent.objects.filter(action="link.undo", actor_id=beheerder.pk).exists()


def test_koppeling_undo_of_another_organisation_is_refused(beheerder, other_gebruiker):
    KoppelingFactory(account=other_gebruiker)
    with pytest.raises(PermissionDenied):
        services.koppeling_undo(beheerder=beheerder, account=other_gebruiker, reason="lost")


def test_accounts_without_organisation_cannot_register(db):
    from tests.factories import StaffFactory

    with pytest.raises(PermissionDenied):
        services.gebruiker_register(beheerder=StaffFactory(), name="X", email="x@x.example")


def test_beheerder_may_give_himself_a_role(beheerder, kenmerk):
    services.rol_assign(
        beheerder=beheerder, account=beheerder, rol=Rol.objects.get(code="osr"), kenmerk=kenmerk
    )
    assert beheerder.rol_toekenningen.count() == 1


def test_user_of_the_same_organisation_without_authorisation_stays_a_user(organisatie):
    assert AccountFactory(organisatie=organisatie).beheerautorisatie_toekenningen.count() == 0


@pytest.mark.parametrize("action", ["update_email", "send_code", "undo_link", "remove"])
def test_a_beheerder_cannot_take_over_another_beheerders_account(beheerder, organisatie, action):
    """E-mail address, code or link of a beheer account would hand its beheerautorisaties to the actor."""
    colleague = beheerder_create("po", organisatie=organisatie, email="po@school.example")
    KoppelingFactory(account=colleague, legal_subject_id=organisatie.kvk_nummer)
    with pytest.raises((PermissionDenied, ValidationError)):
        _act(action, beheerder=beheerder, account=colleague)
    colleague.refresh_from_db()
    assert colleague.email == "po@school.example" and colleague.removed_at is None
    if action != "send_code":  # (that case ends the link first, as a code is only sent to unlinked users)
        assert Koppeling.objects.filter(account=colleague, ended_at__isnull=True).exists()
    assert not EmailOutbox.objects.filter(account=colleague).exists()


@pytest.mark.parametrize("action", ["update_email", "send_code", "undo_link", "remove"])
def test_a_user_with_roles_outside_the_beheerders_reach_is_left_to_the_helpdesk(
    beheerder, gebruiker, organisatie, action
):
    bestuur_kenmerk = KenmerkFactory(
        organisatie=organisatie, type=kenmerk_type("bestuursnummer"), waarde="12345"
    )
    grant_rol(gebruiker, "medewerker_bekostiging", bestuur_kenmerk)  # a Beheerder Bekostiging gave it
    KoppelingFactory(account=gebruiker, legal_subject_id=organisatie.kvk_nummer)
    with pytest.raises(PermissionDenied):
        _act(action, beheerder=beheerder, account=gebruiker)
    gebruiker.refresh_from_db()
    assert gebruiker.email == "gijs@school.example" and gebruiker.removed_at is None


def test_changing_a_users_email_notifies_the_old_address(
    beheerder, gebruiker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.gebruiker_update(beheerder=beheerder, account=gebruiker, email="nieuw@school.example")
    assert [m.to for m in mail.outbox] == [["gijs@school.example"]]
    assert "gewijzigd" in mail.outbox[0].subject.lower() or "gewijzigd" in mail.outbox[0].body.lower()


def _act(action, *, beheerder, account):
    if action == "update_email":
        return services.gebruiker_update(beheerder=beheerder, account=account, email="attacker@evil.example")
    if action == "send_code":
        Koppeling.objects.filter(account=account).update(ended_at="2026-01-01T00:00:00Z")
        return services.activation_code_request(beheerder=beheerder, account=account)
    if action == "undo_link":
        return services.koppeling_undo(beheerder=beheerder, account=account, reason="lost")
    return services.gebruiker_remove(beheerder=beheerder, account=account)
