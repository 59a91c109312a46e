#!/usr/bin/env python3
"""Compares the schema the SQLite migrations make with the one the PostgreSQL migrations make
(issue 22: "a test that both schemas have the same tables, columns and constraints").

Usage: schema_check.py <sqlite file> <postgres database>   (psql reaches the database through the
PG* variables). Prints every difference and exits 1 if there is one; 0 and a one-line summary if not.

Both schemas are read from their catalogs and brought into one normalised form: per table its
columns (type class integer/boolean/text/blob/real, NOT NULL, default, generated id), primary key,
unique constraints, foreign keys (with ON DELETE), enum lists of CHECK (x IN (...)), the other CHECKs
(by the columns they read), named indexes (columns, unique, partial condition) and triggers (by
name). What differs between the dialects on purpose is listed in DIALECT below, each with its
reason; anything else that differs is a difference. Standard library only.
"""

import json
import re
import sqlite3
import subprocess
import sys

# The dialects differ here on purpose; nothing else may differ.
DIALECT = {
    # Triggers only PostgreSQL has.
    "postgres_only_triggers": {
        ("audit_records", "audit_records_are_never_truncated"): "SQLite has no TRUNCATE",
    },
    # SQLite INTEGER columns without a CHECK that hold a 0/1 flag (a copy of a checked one).
    "sqlite_boolean_columns": {("row_counts", "active"): "mirrors mailbox_rows.active"},
    # Columns only PostgreSQL has: SQLite's implicit rowid, named and kept by PostgreSQL where
    # the portal orders by it.
    "postgres_only_columns": {
        ("scim_users", "rowid"): "SQLite's rowid: Users created in one second listed in creation order",
    },
    # SQLite INTEGER PRIMARY KEY columns that are never generated (rowid aliases that are keys).
    "never_generated": {("crl", "id"): "the CRL table has one row, id 1"},
}

SQLITE_TYPE_CLASS = {"INTEGER": "integer", "TEXT": "text", "BLOB": "blob", "REAL": "real"}
POSTGRES_TYPE_CLASS = {
    "bigint": "integer", "integer": "integer", "smallint": "integer",
    "text": "text", "bytea": "blob", "boolean": "boolean",
    "double precision": "real", "real": "real",
}
ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
FTS_SHADOW_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")


def strip_comments(sql):
    """SQL without `--` comments (outside string literals)."""
    out, i, quote = [], 0, None
    while i < len(sql):
        ch = sql[i]
        if quote:
            out.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif sql.startswith("--", i):
            while i < len(sql) and sql[i] != "\n":
                i += 1
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def balanced(sql, start):
    """The text inside the parenthesis that opens at `start`."""
    depth, quote = 0, None
    for i in range(start, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return sql[start + 1 : i]
    raise ValueError("unbalanced parentheses in: " + sql[start : start + 80])


def split_top(text):
    """Splits at the commas outside parentheses and quotes."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def literal(value):
    """A SQL literal as a plain value: 'x' and 'x'::text -> x, 12 -> 12, TRUE -> 1."""
    value = re.sub(r"::[a-z ]+$", "", value.strip())
    if value.startswith("'") and value.endswith("'"):
        return value[1:-1].replace("''", "'")
    return {"true": "1", "false": "0"}.get(value.lower(), value)


def normalise_expr(expr):
    """An expression for comparison: no casts, quotes of identifiers, parentheses or case."""
    expr = re.sub(r"::[a-z ]+", "", expr)
    expr = expr.replace('"', "").replace("(", " ").replace(")", " ")
    return " ".join(expr.lower().split())


def columns_read(expr, columns):
    """The table's columns an expression reads (string literals left out)."""
    expr = re.sub(r"'(?:[^']|'')*'", "''", expr)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr))
    return tuple(sorted(words & set(columns)))


def parse_check(body, columns):
    """('enum', column, values) for `col IN (...)` / `col = ANY (ARRAY[...])`, else ('other', cols)."""
    text = body.strip()
    while text.startswith("(") and balanced(text, 0) == text[1:-1]:
        text = text[1:-1].strip()
    m = re.fullmatch(r"(\w+)\s+IN\s*\((.*)\)", text, re.S | re.I)
    if m and m.group(1) in columns:
        return ("enum", m.group(1), tuple(sorted(literal(v) for v in split_top(m.group(2)))))
    m = re.fullmatch(r"\(?(\w+)\s*=\s*ANY\s*\(\s*ARRAY\[(.*)\]\s*\)\)?", text, re.S)
    if m and m.group(1) in columns:
        return ("enum", m.group(1), tuple(sorted(literal(v) for v in split_top(m.group(2)))))
    return ("other", columns_read(text, columns))


def empty_table():
    return {"columns": {}, "pk": (), "uniques": set(), "fks": set(), "enums": {}, "checks": [],
            "indexes": {}, "triggers": set()}


def read_sqlite(path):
    db = sqlite3.connect(path)
    master = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    virtual = {name: sql for kind, name, _, sql in master
               if kind == "table" and sql and sql.upper().startswith("CREATE VIRTUAL TABLE")}
    shadow = {v + s for v in virtual for s in FTS_SHADOW_SUFFIXES}
    tables = {}
    for kind, name, _, sql in master:
        if kind != "table" or name.startswith("sqlite_") or name == "_sqlx_migrations":
            continue
        if name in virtual or name in shadow:
            continue
        t = empty_table()
        info = db.execute(f'PRAGMA table_info("{name}")').fetchall()
        columns = [row[1] for row in info]
        body = strip_comments(sql)
        checks = []
        for m in re.finditer(r"\bCHECK\s*\(", body, re.I):
            checks.append(parse_check(balanced(body, m.end() - 1), columns))
        booleans = {c[1] for c in checks if c[0] == "enum" and c[2] == ("0", "1")}
        booleans |= {c for (tb, c) in DIALECT["sqlite_boolean_columns"] if tb == name}
        without_rowid = bool(re.search(r"\)\s*WITHOUT\s+ROWID\s*;?\s*$", body, re.I))
        pk = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5] > 0]
        fk_rows = db.execute(f'PRAGMA foreign_key_list("{name}")').fetchall()
        fk_columns = {row[3] for row in fk_rows}
        checked = {c for chk in checks if chk[0] == "other" for c in chk[1]}
        for cid, col, decl, notnull, default, pkpos in info:
            cls = SQLITE_TYPE_CLASS.get(decl.upper(), "unknown:" + decl)
            if col in booleans:
                cls = "boolean"
            rowid_alias = (pk == [col] and decl.upper() == "INTEGER" and not without_rowid)
            generated = (rowid_alias and col not in fk_columns and col not in checked
                         and (name, col) not in DIALECT["never_generated"])
            t["columns"][col] = {
                "type": cls,
                "not null": bool(notnull) or pkpos > 0,
                "default": None if default is None else literal(default),
                "generated": generated,
            }
        t["pk"] = tuple(pk)
        for chk in checks:
            if chk[0] == "enum" and chk[1] not in booleans:
                t["enums"][chk[1]] = chk[2]
            elif chk[0] == "other":
                t["checks"].append(chk[1])
        t["checks"].sort()
        fks = {}
        for fid, seq, ref, frm, to, on_update, on_delete, match in fk_rows:
            fks.setdefault(fid, [ref, [], [], on_delete])
            fks[fid][1].append(frm)
            fks[fid][2].append(to)
        t["fks"] = {(tuple(f[1]), f[0], tuple(f[2]), f[3]) for f in fks.values()}
        for seq, iname, unique, origin, partial in db.execute(f'PRAGMA index_list("{name}")'):
            cols = tuple(r[2] for r in db.execute(f'PRAGMA index_info("{iname}")'))
            if origin == "u":
                t["uniques"].add(cols)
            elif origin == "c":
                isql = strip_comments(next(s for k, n, _, s in master if k == "index" and n == iname))
                m = re.search(r"\bWHERE\b(.*)$", isql, re.S | re.I)
                where = normalise_expr(m.group(1).rstrip("; \n")) if m else None
                t["indexes"][iname] = {"columns": cols, "unique": bool(unique), "where": where}
        tables[name] = t
    for kind, name, table, sql in master:
        if kind != "trigger" or table not in tables:
            continue
        # The triggers that keep an FTS index in step with its content table are the FTS index's.
        if any(re.search(rf"\bINSERT\s+INTO\s+{v}\b", sql, re.I) for v in virtual):
            continue
        tables[table]["triggers"].add(name)
    # An FTS5 trigram table over a content table stands for a trigram index of that table.
    for vname, sql in virtual.items():
        sql = strip_comments(sql)
        args = split_top(balanced(sql, sql.index("(")))
        options = dict((a.split("=", 1)[0].strip(), literal(a.split("=", 1)[1])) for a in args if "=" in a)
        cols = tuple(a for a in args if "=" not in a)
        content = options.get("content")
        if content in tables and options.get("tokenize") == "trigram":
            tables[content]["indexes"]["(trigram search of %s)" % ",".join(cols)] = {
                "columns": cols, "unique": False, "where": None, "source": "FTS5 table " + vname}
        else:
            tables.setdefault("(virtual %s)" % vname, empty_table())
    return tables


POSTGRES_CATALOG = r"""
SELECT json_build_object(
  'columns', (SELECT json_agg(json_build_object(
        'table', c.relname, 'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
        'notnull', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid),
        'identity', a.attidentity, 'collation', co.collname) ORDER BY c.relname, a.attnum)
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      LEFT JOIN pg_collation co ON co.oid = a.attcollation
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        AND c.relname <> '_sqlx_migrations'),
  'constraints', (SELECT json_agg(json_build_object(
        'table', c.relname, 'name', k.conname, 'type', k.contype,
        'columns', (SELECT json_agg(a.attname ORDER BY x.ord) FROM unnest(k.conkey) WITH ORDINALITY x(num, ord)
                    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.num),
        'ref_table', rc.relname,
        'ref_columns', (SELECT json_agg(a.attname ORDER BY x.ord) FROM unnest(k.confkey) WITH ORDINALITY x(num, ord)
                        JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.num),
        'on_delete', k.confdeltype, 'definition', pg_get_constraintdef(k.oid)))
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_class rc ON rc.oid = k.confrelid
      WHERE n.nspname = 'public' AND c.relname <> '_sqlx_migrations'),
  'indexes', (SELECT json_agg(json_build_object(
        'table', t.relname, 'name', i.relname, 'unique', x.indisunique,
        'backs_constraint', EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid AND k.conrelid = t.oid),
        'method', am.amname,
        'columns', (SELECT json_agg(pg_get_indexdef(x.indexrelid, k, true) ORDER BY k)
                    FROM generate_series(1, x.indnatts) k),
        'opclasses', (SELECT json_agg(oc.opcname ORDER BY o.ord) FROM unnest(x.indclass) WITH ORDINALITY o(oid, ord)
                      JOIN pg_opclass oc ON oc.oid = o.oid),
        'predicate', pg_get_expr(x.indpred, x.indrelid)))
      FROM pg_index x
      JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = i.relam
      WHERE n.nspname = 'public' AND t.relname <> '_sqlx_migrations'),
  'triggers', (SELECT json_agg(json_build_object('table', c.relname, 'name', g.tgname))
      FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND NOT g.tgisinternal)
)
"""


def read_postgres(database):
    out = subprocess.run(
        ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", POSTGRES_CATALOG],
        check=True, capture_output=True, text=True).stdout
    cat = json.loads(out)
    tables = {}
    for c in cat["columns"] or []:
        t = tables.setdefault(c["table"], empty_table())
        cls = POSTGRES_TYPE_CLASS.get(c["type"], "unknown:" + c["type"])
        default = c["default"]
        t["columns"][c["name"]] = {
            "type": cls,
            "not null": c["notnull"],
            "default": None if default is None else literal(default),
            "generated": c["identity"] in ("a", "d"),
        }
        if cls == "text" and c["collation"] != "C":
            t.setdefault("problems", []).append(
                f'column {c["name"]}: text compares by collation {c["collation"]!r}, not "C" '
                "(SQLite compares bytewise; sort orders would differ)")
    for k in cat["constraints"] or []:
        t = tables[k["table"]]
        cols = tuple(k["columns"] or ())
        if k["type"] == "p":
            t["pk"] = cols
        elif k["type"] == "u":
            t["uniques"].add(cols)
        elif k["type"] == "f":
            t["fks"].add((cols, k["ref_table"], tuple(k["ref_columns"]), ON_DELETE[k["on_delete"]]))
        elif k["type"] == "c":
            # NOT VALID: a widened enum list (the rows so far are in the older, shorter one).
            m = re.fullmatch(r"CHECK \((.*)\)( NOT VALID)?", k["definition"], re.S)
            chk = parse_check(m.group(1), list(t["columns"]))
            if chk[0] == "enum":
                t["enums"][chk[1]] = chk[2]
            else:
                t["checks"].append(chk[1])
    for t in tables.values():
        t["checks"].sort()
    for i in cat["indexes"] or []:
        if i["backs_constraint"]:
            continue
        t = tables[i["table"]]
        cols = tuple(c.replace('"', "") for c in i["columns"])
        entry = {"columns": cols, "unique": i["unique"],
                 "where": normalise_expr(i["predicate"]) if i["predicate"] else None}
        if i["method"] == "gin" and all(o == "gin_trgm_ops" for o in i["opclasses"]):
            entry["source"] = "pg_trgm GIN index " + i["name"]
            t["indexes"]["(trigram search of %s)" % ",".join(cols)] = entry
        elif i["method"] != "btree":
            t["indexes"][i["name"]] = dict(entry, method=i["method"])
        else:
            t["indexes"][i["name"]] = entry
    for g in cat["triggers"] or []:
        tables[g["table"]]["triggers"].add(g["name"])
    for (table, trigger) in DIALECT["postgres_only_triggers"]:
        if table in tables:
            tables[table]["triggers"].discard(trigger)
    for (table, column) in DIALECT["postgres_only_columns"]:
        if table in tables:
            tables[table]["columns"].pop(column, None)
    return tables


def show(value):
    if isinstance(value, dict):
        return ", ".join(f"{k} {show(v)}" for k, v in value.items() if k != "source")
    if isinstance(value, set):
        return "{" + ", ".join(show(v) for v in sorted(value, key=str)) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(show(v) for v in value) + ")"
    return repr(value)


def compare(lite, pg):
    diffs = []
    for name in sorted(set(lite) | set(pg)):
        if name not in pg:
            diffs.append(f"table {name}: in SQLite only")
            continue
        if name not in lite:
            diffs.append(f"table {name}: in PostgreSQL only")
            continue
        a, b = lite[name], pg[name]
        for problem in b.get("problems", []):
            diffs.append(f"table {name}: {problem}")
        for col in sorted(set(a["columns"]) | set(b["columns"])):
            ca, cb = a["columns"].get(col), b["columns"].get(col)
            if ca != cb:
                diffs.append(f"column {name}.{col}: SQLite {show(ca) if ca else 'missing'}"
                             f" | PostgreSQL {show(cb) if cb else 'missing'}")
        if a["pk"] != b["pk"]:
            diffs.append(f"primary key of {name}: SQLite {a['pk']} | PostgreSQL {b['pk']}")
        for label in ("uniques", "fks", "triggers"):
            for item in sorted(a[label] - b[label], key=str):
                diffs.append(f"{label[:-1]} of {name} in SQLite only: {show(item)}")
            for item in sorted(b[label] - a[label], key=str):
                diffs.append(f"{label[:-1]} of {name} in PostgreSQL only: {show(item)}")
        for col in sorted(set(a["enums"]) | set(b["enums"])):
            ea, eb = set(a["enums"].get(col, ())), set(b["enums"].get(col, ()))
            if ea != eb or (col in a["enums"]) != (col in b["enums"]):
                diffs.append(f"enum {name}.{col}: SQLite only {sorted(ea - eb)}, PostgreSQL only {sorted(eb - ea)}"
                             + ("" if col in a["enums"] else " (no CHECK in SQLite)")
                             + ("" if col in b["enums"] else " (no CHECK in PostgreSQL)"))
        if a["checks"] != b["checks"]:
            diffs.append(f"other CHECKs of {name} (by the columns they read): SQLite {a['checks']}"
                         f" | PostgreSQL {b['checks']}")
        for idx in sorted(set(a["indexes"]) | set(b["indexes"])):
            ia, ib = a["indexes"].get(idx), b["indexes"].get(idx)
            strip = lambda i: i and {k: v for k, v in i.items() if k != "source"}
            if strip(ia) != strip(ib):
                diffs.append(f"index {idx} on {name}: SQLite {show(ia) if ia else 'missing'}"
                             f" | PostgreSQL {show(ib) if ib else 'missing'}")
    return diffs


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    lite, pg = read_sqlite(sys.argv[1]), read_postgres(sys.argv[2])
    diffs = compare(lite, pg)
    if diffs:
        print(f"schema-check: the SQLite and PostgreSQL schemas differ ({len(diffs)}):")
        for d in diffs:
            print("  " + d)
        sys.exit(1)
    columns = sum(len(t["columns"]) for t in lite.values())
    indexes = sum(len(t["indexes"]) for t in lite.values())
    fks = sum(len(t["fks"]) for t in lite.values())
    enums = sum(len(t["enums"]) for t in lite.values())
    print(f"schema-check: same schema on both engines: {len(lite)} tables, {columns} columns, "
          f"{fks} foreign keys, {enums} enum lists, {indexes} indexes")


if __name__ == "__main__":
    main()
