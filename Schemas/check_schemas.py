#!/usr/bin/env python3
"""Checks casevault's JSON Schemas and their examples.

    python3 Schemas/check_schemas.py        (from the repository root, or from anywhere)

For every Schemas/*.schema.json and Schemas/forms/*.schema.json:
  - it is a valid draft 2020-12 schema (jsonschema's metaschema check);
  - it uses only the keywords casevault's own validator supports, only local
    $refs that resolve, only the formats date, date-time and email, and only
    simple patterns (no lookaround, no backreferences, no named groups);
  - "$schema", "$id" (matching its path), "title", "description", "type":
    "object" and "additionalProperties": false at the root.
For the form schemas, also:
  - exactly the 14 form types of the case management process are present;
  - the title (the report name printed in stamps) is a valid document name,
    and matches the agreed name where one was agreed;
  - every property has a "title" (rendering needs a label);
  - no stamp field (case number, status, report name, case manager or
    supervisor, filing date): casevault stamps those itself.
For every examples/<name>.json: it validates against its schema with formats
asserted; then invalid variants are derived from it (each required member
dropped, an unknown member added, each date / date-time / email / enum /
pattern / minimum broken in turn, plus hand-written cases for the conditional
rules) and each must be rejected; a few hand-written valid variants must pass.

Exit status: 0 when everything holds, 1 on any problem.
"""

import copy
import json
import re
import sys
from datetime import date
from pathlib import Path

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    print("check_schemas: error: the Python package 'jsonschema' is needed (pip install jsonschema)", file=sys.stderr)
    sys.exit(2)

HERE = Path(__file__).resolve().parent
BASE_ID = "https://casevault.example/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

ALLOWED_KEYWORDS = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "type", "enum", "const", "properties", "required",
    "additionalProperties", "items", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern",
    "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minProperties",
    "maxProperties", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentRequired", "default", "examples",
}
ALLOWED_FORMATS = {"date", "date-time", "email"}
JSON_TYPES = {"null", "boolean", "object", "array", "number", "string", "integer"}

FORM_TYPES = [
    "referral", "screening", "intake", "assessment", "care-plan", "safety-plan", "home-visit", "monitoring-reassessment",
    "case-conference", "transition-plan", "closure", "handover", "consent-and-confidentiality", "complaint",
]
AGREED_TITLES = {
    "intake": "Intake form",
    "care-plan": "Care plan",
    "home-visit": "Home visit report (with placement safety assessment)",
    "monitoring-reassessment": "Monthly progress report (monitoring and reassessment)",
    "case-conference": "Case conference record",
    "transition-plan": "Transition plan (aged-out case)",
    "closure": "Case closure (termination and case resolution)",
    "handover": "Case handover",
    "consent-and-confidentiality": "Consent and confidentiality form",
    "complaint": "Complaint form",
}
# Fields casevault writes into every version's stamp; a form must not carry them.
STAMP_FIELDS = {
    "caseNumber", "caseStatus", "status_of_case", "report", "reportName", "caseManager", "caseManagerName",
    "caseSupervisor", "caseSupervisorName", "filingDate", "filedAt", "filedBy", "filedByName", "stamp",
}

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        problem(rel(path), f"cannot read JSON: {error}")
        return None


def rel(path):
    try:
        return str(Path(path).resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


def pointer(path):
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path) if path else "(root)"


# ---------------------------------------------------------------- schema walk

SCHEMA_MAP_KEYWORDS = ("properties", "$defs")
SCHEMA_KEYWORDS = ("items", "additionalProperties", "not", "if", "then", "else")
SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf")


def walk_schema(node, path, visit):
    """Calls visit(node, path) on every subschema (not on enum/const/default/examples data)."""
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        visit(node, path)
        return
    visit(node, path)
    for key in SCHEMA_MAP_KEYWORDS:
        members = node.get(key)
        if isinstance(members, dict):
            for name, sub in members.items():
                walk_schema(sub, path + [key, name], visit)
    for key in SCHEMA_KEYWORDS:
        if key in node:
            walk_schema(node[key], path + [key], visit)
    for key in SCHEMA_LIST_KEYWORDS:
        if isinstance(node.get(key), list):
            for index, sub in enumerate(node[key]):
                walk_schema(sub, path + [key, index], visit)


def resolve_ref(root, ref):
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node = root
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def check_pattern(where, pattern):
    try:
        re.compile(pattern)
    except re.error as error:
        problem(where, f"pattern {pattern!r} does not compile: {error}")
        return
    for bad, why in (("(?<", "lookbehind or a named group"), ("(?=", "lookahead"), ("(?!", "negative lookahead"),
                     ("(?P", "a Python-only group"), ("\\k<", "a named backreference")):
        if bad in pattern:
            problem(where, f"pattern {pattern!r} uses {why}")
    if re.search(r"(?<!\\)\\[1-9]", pattern):
        problem(where, f"pattern {pattern!r} uses a backreference")


def check_keywords(name, schema):
    def visit(node, path):
        where = f"{name} {pointer(path)}"
        if not isinstance(node, dict):
            problem(where, "a subschema must be an object or a boolean")
            return
        for key in node:
            if key not in ALLOWED_KEYWORDS:
                problem(where, f"keyword {key!r} is not supported by casevault's validator")
        if "$id" in node and path:
            problem(where, "a nested $id is not allowed")
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                problem(where, f"$ref {ref!r} is not a local reference")
            elif resolve_ref(schema, ref) is None:
                problem(where, f"$ref {ref!r} points nowhere")
        if "format" in node and node["format"] not in ALLOWED_FORMATS:
            problem(where, f"format {node['format']!r} is not one of {sorted(ALLOWED_FORMATS)}")
        if "pattern" in node:
            check_pattern(where, node["pattern"])
        if "type" in node:
            types = node["type"] if isinstance(node["type"], list) else [node["type"]]
            for t in types:
                if t not in JSON_TYPES:
                    problem(where, f"type {t!r} is not a JSON type")
        if "additionalProperties" in node and not isinstance(node["additionalProperties"], (bool, dict)):
            problem(where, "additionalProperties must be a boolean or a schema")
        if "dependentRequired" in node:
            dep = node["dependentRequired"]
            if not (isinstance(dep, dict) and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in dep.values())):
                problem(where, "dependentRequired must map names to lists of names")
        if "required" in node and isinstance(node.get("properties"), dict) and node.get("additionalProperties") is False:
            for member in node["required"]:
                if member not in node["properties"]:
                    problem(where, f"required member {member!r} is not among the properties")
    walk_schema(schema, [], visit)


def check_root(name, path, schema, expected_id):
    if schema.get("$schema") != DIALECT:
        problem(name, f'"$schema" must be {DIALECT!r}')
    if schema.get("$id") != expected_id:
        problem(name, f'"$id" is {schema.get("$id")!r}, expected {expected_id!r}')
    for key in ("title", "description"):
        if not isinstance(schema.get(key), str) or not schema[key].strip():
            problem(name, f'"{key}" is missing or empty')
    if schema.get("type") != "object":
        problem(name, '"type" must be "object"')
    if schema.get("additionalProperties") is not False:
        problem(name, '"additionalProperties" must be false at the root')


def check_form(name, type_, schema):
    title = schema.get("title", "")
    if not (1 <= len(title) <= 120) or title.strip() != title or "/" in title or any(ord(c) < 32 or ord(c) == 127 for c in title):
        problem(name, f"title {title!r} is not a valid document name (1-120 printable characters, no '/')")
    if type_ in AGREED_TITLES and title != AGREED_TITLES[type_]:
        problem(name, f"title is {title!r}, the agreed report name is {AGREED_TITLES[type_]!r}")
    form = schema.get("properties", {}).get("form")
    if form is not None and form.get("const") != type_:
        problem(name, f'property "form" must be const {type_!r}')

    def visit(node, path):
        if not isinstance(node, dict):
            return
        for prop, sub in (node.get("properties") or {}).items():
            where = f"{name} {pointer(path + ['properties', prop])}"
            # Properties inside if/then/else only narrow what is declared elsewhere.
            in_condition = any(p in ("if", "then", "else", "not") for p in path)
            if not in_condition and not (isinstance(sub, dict) and isinstance(sub.get("title"), str) and sub["title"].strip()):
                problem(where, "property has no title")
            if prop in STAMP_FIELDS:
                problem(where, f"{prop!r} is a stamp field; casevault stamps it, the form must not carry it")
    walk_schema(schema, [], visit)


# ---------------------------------------------------------------- instance walk (for derived invalid variants)

def deref(root, node, depth=0):
    while isinstance(node, dict) and "$ref" in node and depth < 32:
        target = resolve_ref(root, node["$ref"])
        if target is None:
            return node
        merged = dict(target)
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        node = merged
        depth += 1
    return node


def locations(root, schema, instance, path=()):
    """Yields (path, resolved subschema, value) for every node of the instance."""
    schema = deref(root, schema)
    if not isinstance(schema, dict):
        return
    yield list(path), schema, instance
    if isinstance(instance, dict):
        props = schema.get("properties") or {}
        for key, value in instance.items():
            if key in props:
                yield from locations(root, props[key], value, path + (key,))
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for index, value in enumerate(instance):
            yield from locations(root, schema["items"], value, path + (index,))


def get_at(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def set_at(doc, path, value):
    doc = copy.deepcopy(doc)
    if not path:
        return value
    get_at(doc, path[:-1])[path[-1]] = value
    return doc


def delete_at(doc, path):
    doc = copy.deepcopy(doc)
    del get_at(doc, path[:-1])[path[-1]]
    return doc


BAD_PATTERN_VALUES = ["!!", "/absolute", "a\\b", "x" * 70, "0" * 63, "Z"]


def derived_variants(root, example):
    """Invalid variants derived from a valid example: (label, instance)."""
    for path, schema, value in locations(root, root, example):
        where = pointer(path)
        if isinstance(value, dict):
            for member in schema.get("required", []):
                if member in value:
                    yield f"{where}: required {member!r} dropped", delete_at(example, path + [member])
            if schema.get("additionalProperties") is False:
                yield f"{where}: unknown member added", set_at(example, path + ["notAField"], "x")
        if isinstance(value, list) and "minItems" in schema and schema["minItems"] >= 1:
            yield f"{where}: emptied below minItems", set_at(example, path, [])
        if "enum" in schema:
            yield f"{where}: value outside the enum", set_at(example, path, "__not-an-option__")
        if "const" in schema:
            yield f"{where}: value other than the const", set_at(example, path, "__not-the-const__")
        if isinstance(value, str):
            fmt = schema.get("format")
            if fmt == "date":
                yield f"{where}: impossible date", set_at(example, path, "2024-02-30")
                yield f"{where}: date not in RFC 3339 form", set_at(example, path, "12/03/2024")
            elif fmt == "date-time":
                yield f"{where}: date-time without 'T' and offset", set_at(example, path, "2024-03-12 15:10")
            elif fmt == "email":
                yield f"{where}: not an email", set_at(example, path, "not-an-email")
            if "pattern" in schema:
                for bad in BAD_PATTERN_VALUES:
                    if not re.search(schema["pattern"], bad):
                        yield f"{where}: {bad!r} does not match the pattern", set_at(example, path, bad)
                        break
            if schema.get("type") == "string":
                yield f"{where}: number instead of a string", set_at(example, path, 42)
        if isinstance(value, int) and not isinstance(value, bool) and "minimum" in schema:
            yield f"{where}: below the minimum", set_at(example, path, schema["minimum"] - 1)


# Hand-written variants for the rules the derived ones cannot reach (conditional
# requirements and cross-field rules): (label, function(example) -> instance, must_be_valid)
def _set(path, value):
    return lambda ex: set_at(ex, path, value)


def _del(path):
    return lambda ex: delete_at(ex, path)


def _chain(*fns):
    def run(ex):
        for fn in fns:
            ex = fn(ex)
        return ex
    return run


SPECIFIC = {
    "referral": [
        ("no date of birth and no estimated age", _del(["estimatedAge"]), False),
        ("consent not given and no reason", _set(["consentToReferral"], {"given": False}), False),
        ("consent not given, reason recorded", _set(["consentToReferral"], {"given": False, "reasonIfNotGiven": "Child asleep; caregiver absent."}), True),
        ("consent given without date", _del(["consentToReferral", "date"]), False),
    ],
    "screening": [
        ("referred elsewhere without saying where", _set(["outcome"], "refer-elsewhere"), False),
        ("not eligible without rationale", _chain(_set(["outcome"], "not-eligible"), _del(["rationale"])), False),
        ("no eligibility criteria", _set(["eligibilityCriteria"], []), False),
    ],
    "intake": [
        ("no date of birth and no estimated age", _del(["estimatedAge"]), False),
        ("date of birth instead of estimated age", _chain(_del(["estimatedAge"]), _set(["dateOfBirth"], "2009-05-14")), True),
        ("bad date of intake", _set(["dateOfIntake"], "2024-13-04"), False),
    ],
    "assessment": [
        ("no domains assessed", _set(["domains"], []), False),
        ("risk level not in the scale", _set(["overallRiskLevel"], "severe"), False),
    ],
    "care-plan": [
        ("goal without owner", _del(["goals", 0, "owner"]), False),
        ("goal without due date", _del(["goals", 0, "dueDate"]), False),
        ("no goals", _set(["goals"], []), False),
    ],
    "safety-plan": [
        ("no emergency contacts", _set(["emergencyContacts"], []), False),
        ("phone with letters", _set(["emergencyContacts", 0, "phone"], "call me"), False),
    ],
    "home-visit": [
        ("no placement safety assessment", _del(["placementSafetyAssessment"]), False),
        ("high risk without immediate actions", _set(["placementSafetyAssessment", "overallRiskLevel"], "high"), False),
        ("high risk with an immediate action",
         _chain(_set(["placementSafetyAssessment", "overallRiskLevel"], "high"),
                _set(["placementSafetyAssessment", "immediateActions"], [{"action": "Move child to emergency foster carer", "owner": "Grace Otieno", "dueDate": "2024-03-12"}])), True),
        ("child removed without an emergency conference", _set(["placementSafetyAssessment", "placementDecision"], "remove-child-now"), False),
        ("continue with conditions but none listed", _set(["placementSafetyAssessment", "placementDecision"], "continue-with-conditions"), False),
        ("arrival time not a date-time", _set(["arrivedAt"], "15:10"), False),
    ],
    "monitoring-reassessment": [
        ("reporting period without end", _del(["reportingPeriod", "to"]), False),
        ("no goal progress", _set(["goalProgress"], []), False),
    ],
    "case-conference": [
        ("admission conference without admission decision", _del(["admissionDecision"]), False),
        ("emergency conference without incident", _chain(_set(["conferenceType"], "emergency"), _del(["admissionDecision"])), False),
        ("emergency conference with incident",
         _chain(_set(["conferenceType"], "emergency"), _del(["admissionDecision"]),
                _set(["incident"], {"occurredAt": "2024-05-03T21:40:00+03:00", "description": "Child ran away from the foster home overnight."})), True),
        ("review conference", _chain(_set(["conferenceType"], "review"), _del(["admissionDecision"])), True),
        ("conference type not in the list", _set(["conferenceType"], "annual"), False),
        ("only one participant", lambda ex: set_at(ex, ["participants"], ex["participants"][:1]), False),
    ],
    "transition-plan": [
        ("extension agreed without new end date", _set(["extension"], {"agreed": True, "reason": "Finishing course"}), False),
        ("extension agreed with end date and reason", _set(["extension"], {"agreed": True, "newEndDate": "2025-04-02", "reason": "Finishing course"}), True),
    ],
    "closure": [
        ("durable solution reason without durable solution", _del(["durableSolution"]), False),
        ("untraceable without tracing attempts", _chain(_set(["terminationReason"], "untraceable"), _del(["durableSolution"])), False),
        ("untraceable with tracing attempts",
         _chain(_set(["terminationReason"], "untraceable"), _del(["durableSolution"]), _set(["lastContactDate"], "2024-10-01"),
                _set(["tracingAttempts"], [{"date": "2024-11-05", "method": "Home visit", "result": "Family moved"}])), True),
        ("other reason without explanation", _chain(_set(["terminationReason"], "other"), _del(["durableSolution"])), False),
        ("follow-up date without agency", _del(["followUp", "responsibleAgency"]), False),
    ],
    "handover": [
        ("shadowing shorter than three months", _set(["shadowingPeriod", "months"], 2), False),
        ("no incoming case manager", _del(["incomingCaseManager"]), False),
        ("staff id with capitals", _set(["incomingCaseManager", "staffId"], "Daniel Mwangi"), False),
        ("only one signature", lambda ex: set_at(ex, ["signatures"], ex["signatures"][:1]), False),
    ],
    "consent-and-confidentiality": [
        ("withdrawn without date", _set(["withdrawal"], {"withdrawn": True}), False),
        ("no consents recorded", _set(["consents"], []), False),
        ("limits of confidentiality not recorded", _del(["explanations", "limitsOfConfidentiality"]), False),
    ],
    "complaint": [
        ("serious violation not sent to the project director", _set(["process"], "internal-serious-violation"), False),
        ("serious violation sent to the project director",
         _chain(_set(["process"], "internal-serious-violation"), _set(["submittedTo"], "project-director")), True),
        ("named complainant without a name", _del(["complainant", "name"]), False),
        ("anonymous complainant", _set(["complainant"], {"kind": "anonymous"}), True),
        ("response sent without outcome", _del(["response", "outcome"]), False),
    ],
    "retention-policy": [
        ("crypto-shredding without approvers", _del(["default", "approvers"]), False),
        ("legal hold naming neither case nor category", _del(["legalHolds", 0, "case"]), False),
        ("13 months", _set(["byStatus", "AO", "keep", "months"], 12), False),
        ("unknown status key", _set(["byStatus", "X"], {"keep": {"years": 1}, "disposal": "never"}), False),
    ],
    "export-manifest": [
        ("sha256 of 63 hex digits", _set(["cases", 0, "entries", 0, "sha256"], "a" * 63), False),
        ("path with ..", _set(["cases", 0, "entries", 0, "path"], "CP-2024-0042 [O]/../../etc/passwd"), False),
        ("audit export claiming content",
         _chain(_set(["kind"], "audit"), _set(["contentIncluded"], True)), False),
        ("audit export without content", _chain(_set(["kind"], "audit"), _set(["contentIncluded"], False), _del(["recipient"])), True),
        ("handover without recipient", _del(["recipient"]), False),
        ("stamp without report name", _del(["cases", 0, "entries", 0, "stamp", "report"]), False),
    ],
}


def add_months(d, months):
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    day = min(d.day, [31, 29 if y % 4 == 0 and (y % 100 or y % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1])
    return date(y, m, day)


def semantic_checks(name, example):
    """Cross-field rules JSON Schema cannot state, checked on the examples."""
    if name == "handover":
        sp = example["shadowingPeriod"]
        start, end = date.fromisoformat(sp["start"]), date.fromisoformat(sp["end"])
        if end < add_months(start, 3):
            problem(f"examples/{name}.json", "shadowing period is shorter than three months (manual 5.2.4)")
        if end < add_months(start, sp["months"]):
            problem(f"examples/{name}.json", "shadowing end is earlier than start + months")
    if name == "transition-plan":
        turned, ends = date.fromisoformat(example["dateTurned18"]), date.fromisoformat(example["transitionEnds"])
        if not example.get("extension", {}).get("agreed") and ends != add_months(turned, 6):
            problem(f"examples/{name}.json", "without an extension, the transition ends six months after the 18th birthday")


# ---------------------------------------------------------------- main

def format_checker():
    """jsonschema's format checker, with an RFC 3339 date-time check of our own
    where jsonschema lacks one (it asserts date-time only when the optional
    rfc3339-validator module is installed, which Debian does not package)."""
    import re
    from jsonschema import FormatChecker
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        pattern = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

        @checker.checks("date-time", raises=ValueError)
        def is_date_time(value):
            if not isinstance(value, str):
                return True
            m = pattern.match(value)
            if not m:
                return False
            import datetime
            datetime.date(int(m[1]), int(m[2]), int(m[3]))  # raises on an impossible date
            return int(m[4]) <= 23 and int(m[5]) <= 59 and int(m[6]) <= 60
    return checker


def main():
    fc = format_checker()
    schemas = {}
    for path in sorted(HERE.glob("*.schema.json")) + sorted((HERE / "forms").glob("*.schema.json")):
        schema = load(path)
        if schema is None:
            continue
        name = rel(path)
        sub = path.relative_to(HERE).as_posix()
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as error:
            problem(name, f"not a valid draft 2020-12 schema: {error.message}")
            continue
        check_root(name, path, schema, BASE_ID + sub)
        check_keywords(name, schema)
        key = path.name[: -len(".schema.json")]
        if path.parent.name == "forms":
            check_form(name, key, schema)
        schemas[key] = (name, schema, path.parent.name == "forms")

    # Schemas/cli/: the shapes of the commands' --json output (held to the
    # real output by the Swift tests); valid, and within the validator's keywords.
    cli_count = 0
    for path in sorted((HERE / "cli").glob("*.schema.json")):
        schema = load(path)
        if schema is None:
            continue
        name = rel(path)
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as error:
            problem(name, f"not a valid draft 2020-12 schema: {error.message}")
            continue
        if schema.get("$schema") != DIALECT or schema.get("$id") != BASE_ID + path.relative_to(HERE).as_posix():
            problem(name, '"$schema" or "$id" is not as the other schemas have them')
        if not all(isinstance(schema.get(k), str) and schema[k].strip() for k in ("title", "description")):
            problem(name, '"title" or "description" is missing')
        if schema.get("type") not in ("object", "array"):
            problem(name, '"type" at the root must be "object" or "array"')
        check_keywords(name, schema)
        cli_count += 1
    print(f"ok  {cli_count} command output schemas (Schemas/cli/)")

    present = sorted(k for k, v in schemas.items() if v[2])
    for missing in sorted(set(FORM_TYPES) - set(present)):
        problem(rel(HERE / "forms"), f"no schema for form type {missing!r}")
    for extra in sorted(set(present) - set(FORM_TYPES)):
        problem(rel(HERE / "forms"), f"{extra!r} is not one of the 14 form types")

    for orphan in sorted((HERE / "examples").glob("*.json")):
        if orphan.stem not in schemas:
            problem(rel(orphan), "example for no schema (expected forms/<type>.schema.json or <name>.schema.json)")

    rejected = accepted = 0
    for key, (name, schema, is_form) in sorted(schemas.items()):
        example_path = HERE / "examples" / f"{key}.json"
        if not example_path.exists():
            if is_form or key in SPECIFIC:
                problem(name, f"no example at {rel(example_path)}")
            continue
        example = load(example_path)
        if example is None:
            continue
        validator = Draft202012Validator(schema, format_checker=fc)
        errors = sorted(validator.iter_errors(example), key=lambda e: list(e.absolute_path))
        for error in errors:
            problem(rel(example_path), f"{pointer(list(error.absolute_path))}: {error.message}")
        if errors:
            continue
        semantic_checks(key, example)
        count = 0
        for label, variant in derived_variants(schema, example):
            count += 1
            if validator.is_valid(variant):
                problem(rel(example_path), f"invalid variant accepted: {label}")
        own = 0
        for label, make, must_be_valid in SPECIFIC.get(key, []):
            variant = make(example)
            errs = list(validator.iter_errors(variant))
            if must_be_valid and errs:
                problem(rel(example_path), f"valid variant rejected: {label}: {errs[0].message}")
            elif not must_be_valid and not errs:
                problem(rel(example_path), f"invalid variant accepted: {label}")
            if must_be_valid:
                accepted += 1
            else:
                own += 1
        if is_form and own == 0:
            problem(name, "no hand-written invalid variant")
        rejected += count + own
        lines = sum(1 for _ in open(HERE / ("forms" if is_form else "") / f"{key}.schema.json", encoding="utf-8"))
        print(f"ok  {name:56} {lines:4} lines  {schema['title']!r}: example valid; "
              f"{count} derived + {own} hand-written invalid variants rejected")

    print(f"{len(schemas)} schemas checked, {rejected} invalid variants, {accepted} extra valid variants")
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
