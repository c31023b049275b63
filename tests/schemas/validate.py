#!/usr/bin/python3
"""Validates SBOM files against the vendored JSON schemas (README.md here names their sources).

usage: validate.py SCHEMA_DIR spdx|cyclonedx FILE...

Every schema in SCHEMA_DIR is registered under its $id and under its file name beside the main
schema's $id, so that CycloneDX's relative $refs (spdx.SNAPSHOT.schema.json,
jsf-0.82.SNAPSHOT.schema.json) resolve to the vendored files and nothing is fetched. Prints one
line per error and exits 1 when a file does not validate, 2 on bad usage.
"""
import json
import os
import sys

import jsonschema

MAIN = {"spdx": "spdx-2.3.schema.json", "cyclonedx": "bom-1.6.SNAPSHOT.schema.json"}


def main(argv):
    if len(argv) < 4 or argv[2] not in MAIN:
        print(__doc__, file=sys.stderr)
        return 2
    schema_dir, kind, files = argv[1], argv[2], argv[3:]
    schemas = {}
    for name in sorted(os.listdir(schema_dir)):
        if name.endswith(".schema.json"):
            with open(os.path.join(schema_dir, name), encoding="utf-8") as f:
                schemas[name] = json.load(f)
    main_schema = schemas[MAIN[kind]]
    base = main_schema["$id"].rsplit("/", 1)[0] + "/"
    store = {}
    for name, schema in schemas.items():
        store[base + name] = schema
        if "$id" in schema:
            store[schema["$id"]] = schema
    cls = jsonschema.validators.validator_for(main_schema)
    cls.check_schema(main_schema)
    resolver = jsonschema.RefResolver.from_schema(main_schema, store=store)
    validator = cls(main_schema, resolver=resolver, format_checker=cls.FORMAT_CHECKER)
    failed = False
    for path in files:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        for e in errors:
            where = "/".join(str(p) for p in e.absolute_path)
            print(f"{path}: /{where}: {e.message}")
        if errors:
            failed = True
        else:
            print(f"{path}: valid {kind} ({MAIN[kind]})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
