"""The "Helpdesk" group: the least privileges the DUO Security Service Desk needs for daily work."""

from django.contrib.auth.models import Group, Permission

HELPDESK_GROUP = "Helpdesk"

# app_label.codename. No delete on accounts or organisations (removal is a status), no audit changes,
# no rights on groups, permissions or OTP devices of staff (a superuser enrols devices).
HELPDESK_PERMISSIONS = [
    "accounts.view_organisatie",
    "accounts.add_organisatie",
    "accounts.change_organisatie",
    "accounts.view_kenmerk",
    "accounts.add_kenmerk",
    "accounts.change_kenmerk",
    "accounts.delete_kenmerk",
    "accounts.view_account",
    "accounts.add_account",
    "accounts.change_account",
    "accounts.view_beheerautorisatietoekenning",
    "accounts.add_beheerautorisatietoekenning",
    "accounts.change_beheerautorisatietoekenning",
    "accounts.delete_beheerautorisatietoekenning",
    "accounts.view_roltoekenning",
    "accounts.view_rol",
    "accounts.add_rol",
    "accounts.change_rol",
    "accounts.view_beheerautorisatie",
    "accounts.change_beheerautorisatie",
    "accounts.view_kenmerktype",
    "accounts.view_auditevent",
    "accounts.view_emailoutbox",
    "accounts.view_mededeling",
    "accounts.add_mededeling",
    "accounts.change_mededeling",
    "accounts.delete_mededeling",
    "accounts.view_overstapplanning",
    "accounts.change_overstapplanning",
    "koppeling.view_koppeling",
    "koppeling.change_koppeling",
    "koppeling.view_koppelattemptcounter",
    "koppeling.change_koppelattemptcounter",
    "beheer.view_accessreview",
    "beheer.view_accessreviewdecision",
    "beheer.decide_accessreview",
    # The helpdesk registers the DUO services the portal hands users to (issue 18): a Dienst and,
    # through its form, its OpenID Connect client. No delete: a Dienst is switched off, not removed.
    "diensten.view_dienst",
    "diensten.add_dienst",
    "diensten.change_dienst",
]


def helpdesk_group_sync() -> Group:
    """Create the Helpdesk group and give it exactly the listed permissions that exist."""
    group, _ = Group.objects.get_or_create(name=HELPDESK_GROUP)
    wanted = []
    for dotted in HELPDESK_PERMISSIONS + list(_extra_permissions()):
        app_label, codename = dotted.split(".")
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is not None:
            wanted.append(permission)
    group.permissions.set(wanted)
    return group


def _extra_permissions():
    """Permissions other apps register for the helpdesk (e.g. mededelingen), via settings."""
    from django.conf import settings

    return getattr(settings, "HELPDESK_EXTRA_PERMISSIONS", [])
