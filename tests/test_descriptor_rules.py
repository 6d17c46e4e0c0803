"""The ModuleDescriptor passes what FOLIO's tools check before a module may run (mod_users.descriptor):
folio-module-descriptor-validator's four rules and the permission-name grammar it uses, Okapi's refusals
on registration, and Eureka's interface versions. Each rule is shown to refuse what it should."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from mod_users.config import PROJECT_ROOT
from mod_users.descriptor import descriptor_problems, permission_data, render_descriptor

TEMPLATE = PROJECT_ROOT / "descriptors" / "ModuleDescriptor-template.json"
DESCRIPTOR = render_descriptor(TEMPLATE, "0.1.0")


def test_the_descriptor_passes_every_rule():
    assert descriptor_problems(DESCRIPTOR) == []


# (name, resource, type, action): cases of folio-permission-utils' own tests (PermissionUtilsTest).
GRAMMAR = [
    ("test-resource.view", "Test-Resource", "data", "view"),
    ("inventory-storage.items.collection.get", "Inventory-Storage Items Collection", "data", "view"),
    ("search.index.indices.item.post", "Search Index Indices Item", "data", "create"),
    ("browse_subjects_instances_collection.view", "Browse Subjects Instances Collection", "data", "view"),
    ("notes_domain.manage", "Notes Domain", "data", "manage"),
    ("feefines_item.edit", "Feefines Item", "data", "edit"),
    ("perms.all", "Perms", "data", "manage"),
    ("ui-plugin-find-agreement.search", "UI-Plugin-Find-Agreement", "data", "view"),
    ("accounts_check-waive.execute", "Accounts Check-Waive", "procedural", "execute"),
    ("circulation.end-patron-action-session.post", "Circulation End-Patron-Action-Session", "procedural", "execute"),
    ("ui-inventory.item.move", "UI-Inventory Item", "procedural", "execute"),
    ("ui-acquisition-units.settings.all", "UI-Acquisition-Units Settings", "settings", "manage"),
    ("module.circulation-log.enabled", "Module Circulation-Log Enabled", "settings", "view"),
    ("ui-circulation.settings.loan-history", "UI-Circulation Settings Loan-History", "settings", "view"),
    ("unknown.unknown", "Unknown", "data", None),
    ("permission", None, "data", None),
]


@pytest.mark.parametrize(("name", "resource", "kind", "action"), GRAMMAR)
def test_the_permission_name_grammar(name, resource, kind, action):
    data = permission_data(name)
    assert (data.resource, data.type, data.action) == (resource, kind, action)
    assert data.valid is (resource is not None and action is not None)


# The names the module used before: the validator refused every one (the list).
REFUSED_BEFORE = [
    "polaris.patron-status.blocks.display",
    "polaris.patron-status.blocks.create-delete",
    "polaris.patron-services.access",
    "polaris.patron-status.access",
    "polaris.patron-status.associations.display",
    "polaris.patron-associations.modify",
    "polaris.patron-registration.access",
    "polaris.patron-registration.modify",
]


def test_the_old_polaris_names_are_refused_and_their_replacements_named_after_them():
    assert not any(permission_data(name).valid for name in REFUSED_BEFORE)
    replaced = {old for p in DESCRIPTOR["permissionSets"] for old in p.get("replaces", ())}
    assert replaced == set(REFUSED_BEFORE)  # users granted an old name are granted its successors on upgrade


def test_polaris_permission_ids_stay_visible():
    shown = {p["permissionName"]: p["displayName"] + " " + p["description"] for p in DESCRIPTOR["permissionSets"]}
    assert "PatronStatus_DisplayPatronBlocks (ID 71)" in shown["polaris.patron-status.blocks.view"]
    assert "PatronStatus_CreateDeletePatronBlocks (ID 72)" in shown["polaris.patron-status.blocks.manage"]
    for name, polaris in [
        ("polaris.patron-services.view", "AccessPatronServices_Allow"),
        ("polaris.patron-status.view", "PatronStatus_Access"),
        ("polaris.patron-status.associations.view", "PatronStatus_DisplayAssociations"),
        ("polaris.patron-associations.create", "CreatePatronAssociations_Allow"),
        ("polaris.patron-associations.edit", "ModifyPatronAssociations_Allow"),
        ("polaris.patron-associations.delete", "DeletePatronAssociations_Allow"),
        ("polaris.patron-registration.view", "PatronRegistration_Access"),
        ("polaris.patron-registration.create", "PatronRegistration_Create"),
        ("polaris.patron-registration.edit", "PatronRegistration_Modify"),
    ]:
        assert polaris in shown[name], name


def test_each_polaris_route_requires_one_permission_and_desires_what_the_module_checks():
    # The gateway enforces permissionsRequired (Keycloak authorises it under Eureka, and only then is the token
    # checked); the module sees only desired permissions in X-Okapi-Permissions (the sidecar fills it from
    # permissionsDesired alone), so the Polaris permissions it checks are desired, and plain (no sub-permissions).
    sets = {p["permissionName"]: p for p in DESCRIPTOR["permissionSets"]}
    for interface in DESCRIPTOR["provides"]:
        if not interface["id"].startswith("polaris-patron-"):
            continue
        for entry in interface["handlers"]:
            assert len(entry["permissionsRequired"]) == 1, entry
            assert all(not sets[name].get("subPermissions") for name in entry["permissionsDesired"]), entry


def _broken(change) -> list[str]:
    descriptor = copy.deepcopy(DESCRIPTOR)
    change(descriptor)
    return descriptor_problems(descriptor)


def _interface(descriptor, iid):
    return next(i for i in descriptor["provides"] if i["id"] == iid)


def _handler(descriptor, iid="patron-block-conditions", index=0):
    return _interface(descriptor, iid)["handlers"][index]


def _set_required(*names, index=0):
    return lambda d: _handler(d, index=index).__setitem__("permissionsRequired", list(names))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda d: d["permissionSets"].append({"permissionName": "polaris.patron-status.access"}),
            "Permission name is not valid: polaris.patron-status.access",
        ),
        (
            _set_required("patron-block-conditions.collection.get", "patron-block-conditions.item.get"),
            "Single permission is required for endpoint: /patron-block-conditions ['GET']",
        ),
        (
            _set_required("patron-block-conditions.all"),
            "Permission with sub-permissions is not allowed for endpoint",
        ),
        (
            _set_required("patron-block-conditions.item.post", index=0),
            "Permission protects more than one endpoint: patron-block-conditions.item.post",
        ),
        (_set_required("nobody.defines.this.get"), "Permission is not defined in module descriptor"),
        (
            lambda d: _handler(d).pop("permissionsRequired"),
            "Missing field permissionsRequired: /patron-block-conditions ['GET']",
        ),
        (
            lambda d: _interface(d, "_tenant").pop("interfaceType"),
            'Interface _tenant must be "interfaceType": "system": Okapi calls the handlers of no other',
        ),
        (lambda d: _interface(d, "_tenant").__setitem__("interfaceType", "internal"), "Bad interface type"),
        (lambda d: _handler(d).__setitem__("pathPattern", "/patron-block-conditions.json"), "Invalid character ."),
        (lambda d: _handler(d).__setitem__("methods", ["FETCH"]), "Unknown method FETCH"),
        (
            lambda d: _interface(d, "patron-block-conditions").__setitem__("version", "0.1.0"),
            "Invalid provided interface name or version: patron-block-conditions 0.1.0",
        ),
        (
            lambda d: _interface(d, "patron-block-conditions").__setitem__("version", "1"),
            "Invalid provided interface name or version: patron-block-conditions 1 ",
        ),
        (
            lambda d: _interface(d, "patron-block-conditions").__setitem__("id", "patron block/conditions"),
            "Invalid provided interface name or version: patron block/conditions 0.1",
        ),
        (
            lambda d: _interface(d, "patron-block-conditions").__setitem__("id", "patron-block-conditions\n"),
            "Invalid provided interface name or version: patron-block-conditions\n 0.1",
        ),
    ],
    ids=[
        "name-grammar",
        "one-required",
        "no-sets-required",
        "unique-endpoint",
        "defined",
        "okapi-permissions-required",
        "okapi-tenant-system",
        "okapi-interface-type",
        "okapi-path-pattern",
        "okapi-method",
        "eureka-version",
        "eureka-version-one-part",
        "eureka-interface-id",
        "eureka-interface-id-newline",
    ],
)
def test_each_rule_refuses_what_it_should(change, problem):
    problems = _broken(change)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("iid", ["_custom", "polaris-patron-lookups2", "a.b_c-D9"])
def test_eureka_interface_ids_are_accepted(iid):
    assert _broken(lambda d: _interface(d, "patron-block-conditions").__setitem__("id", iid)) == []


def test_a_permission_both_required_and_desired_is_accepted_as_the_validator_does():
    # folio-module-descriptor-validator reads only permissionsRequired (its RoutingEntry has no
    # permissionsDesired): a handler desiring what it requires is no problem, and the desired name counts for
    # no endpoint, so desiring a permission another endpoint requires is none either.
    def overlap(d):
        entry = _handler(d)
        entry["permissionsDesired"] = [*entry["permissionsRequired"], "patron-block-conditions.item.post"]

    assert _broken(overlap) == []


def test_system_interfaces_may_omit_permissions_required():
    assert _broken(lambda d: _handler(d, "_tenant").pop("permissionsRequired")) == []


def test_descriptor_check_command_exits_non_zero_on_a_bad_descriptor(tmp_path):
    bad = json.loads(TEMPLATE.read_text())
    bad["permissionSets"].append({"permissionName": "polaris.patron-status.access"})
    (tmp_path / "descriptors").mkdir()
    (tmp_path / "descriptors" / "ModuleDescriptor-template.json").write_text(json.dumps(bad))

    def check(contract_dir):
        env = {"MOD_USERS_CONTRACT_DIR": str(contract_dir), "PATH": ""}
        return subprocess.run(
            [sys.executable, "-m", "mod_users.cli", "descriptor", "--check"],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env=env,
        )

    for part in ("ramls", "schemas"):
        (tmp_path / part).mkdir()
    out = check(tmp_path)
    assert out.returncode == 1 and "Permission name is not valid: polaris.patron-status.access" in out.stderr
    good = check(PROJECT_ROOT)
    assert good.returncode == 0, good.stderr
