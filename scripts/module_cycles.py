#!/usr/bin/env python3
"""No import cycle between the modules of `app`, `backend` and `server` (issue 19).

A module is a source file (`x.rs`, `x/mod.rs`, `lib.rs`). Module A depends on module B when A's
code names an item that B defines: through `use crate::…` / `super::…` / `self::…` / a child
module's name, or a `crate::…` path written inline. A path to an item that a module only
re-exports (`pub use child::item`) counts as a dependency on the module that defines the item, and
the re-export itself is no dependency: a facade `mod.rs` may re-export its children while they use
its types. Every strongly connected group of two or more modules is a cycle; each is printed with
the lines that make its edges, and the script fails.

Usage: scripts/module_cycles.py [crate dir …]   (default: app backend server)
"""

import re
import sys
from pathlib import Path

ITEM = re.compile(
    r"^\s*(?:pub(?:\s*\([^)]*\))?\s+)?(?:(?:async|const|unsafe|extern\s+\"C\")\s+)*"
    r"(fn|struct|enum|trait|type|const|static|union|macro_rules!)\s+(\w+)",
    re.M,
)
TOKEN = re.compile(
    r"(?P<mod>\bmod\s+(?P<modname>\w+)\s*\{)"
    r"|(?P<use>\b(?P<pub>pub(?:\s*\([^)]*\))?\s+)?use\s+(?P<tree>[^;]+);)"
    r"|(?P<path>\b(?:crate|super|self)(?:\s*::\s*\w+)+)"
    r"|(?P<open>\{)|(?P<close>\})"
)


def strip(text):
    """The code without comments, string and char literals (kept: newlines, for line numbers)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12]):
            j = text.index("'", i + 2 if text[i + 1] != "\\" else i + 3)
            out.append("' '")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand(tree):
    """`a::{b, c::{d as e, self}}` -> [['a','b'], ['a','c','d'], ['a','c']] (aliases dropped)."""
    tree = re.sub(r"\s+", " ", tree).strip()

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        parts.append(cur)
        return [p.strip() for p in parts if p.strip()]

    def walk(prefix, s):
        s = s.strip()
        if "{" in s and (s.find("{") < s.find(" as ") or " as " not in s):
            head, _, rest = s.partition("{")
            head = head.strip().rstrip(":").strip()
            inner = rest[: rest.rfind("}")]
            base = prefix + [x.strip() for x in head.split("::") if x.strip()]
            result = []
            for part in split_top(inner):
                result.extend(walk(base, part))
            return result
        s = s.split(" as ")[0].strip()
        segs = [x.strip() for x in s.split("::") if x.strip()]
        if segs == ["self"]:
            return [prefix]
        if segs == ["*"]:
            return [prefix + ["*"]]
        return [prefix + segs]

    return walk([], tree)


class Crate:
    def __init__(self, root):
        self.root = root
        self.src = root / "src"
        self.files = {}  # module path (tuple) -> file
        for f in sorted(self.src.rglob("*.rs")):
            rel = f.relative_to(self.src).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] in ("mod", "lib"):
                parts = parts[:-1]
            if parts == ["main"]:
                continue
            self.files[tuple(parts)] = f
        self.code = {m: strip(f.read_text()) for m, f in self.files.items()}
        self.items = {m: {name for _, name in ITEM.findall(c)} for m, c in self.code.items()}
        self.reexports = {m: {} for m in self.files}
        self.refs = {m: [] for m in self.files}  # (absolute path, line, is re-export)
        for m in self.files:
            self.scan(m)

    def children(self, module):
        return {p[-1] for p in self.files if len(p) == len(module) + 1 and p[: len(module)] == module}

    def absolute(self, module, segs):
        """A path as written in `module` (after inline `mod` blocks), from the crate root; None
        for another crate's."""
        segs = list(segs)
        if not segs:
            return None
        if segs[0] == "crate":
            return segs[1:]
        base = list(module)
        if segs[0] == "self":
            return base + segs[1:]
        if segs[0] == "super":
            while segs and segs[0] == "super":
                base = base[:-1]
                segs = segs[1:]
            return base + segs
        file_module = self.file_of(tuple(module))
        if segs[0] in self.children(file_module) and tuple(module) == file_module:
            return base + segs
        return None

    def file_of(self, module):
        """The deepest module with a file that `module` (a module path, maybe inline) lies in."""
        module = tuple(module)
        while module not in self.files:
            module = module[:-1]
        return module

    def scan(self, m):
        code = self.code[m]
        stack = []  # (inline module name, brace depth at which it ends)
        depth = 0
        for t in TOKEN.finditer(code):
            line = code.count("\n", 0, t.start()) + 1
            here = list(m) + [name for name, _ in stack]
            if t.group("open"):
                depth += 1
            elif t.group("close"):
                depth -= 1
                if stack and stack[-1][1] == depth:
                    stack.pop()
            elif t.group("mod"):
                depth += 1
                stack.append((t.group("modname"), depth - 1))
            elif t.group("use"):
                for segs in expand(t.group("tree")):
                    path = self.absolute(here, segs)
                    if path is None:
                        continue
                    is_pub = bool(t.group("pub")) and not stack
                    if is_pub and segs[-1] != "*":
                        self.reexports[m][segs[-1]] = path
                    self.refs[m].append((path, line, is_pub))
            elif t.group("path"):
                segs = [s.strip() for s in t.group("path").split("::")]
                path = self.absolute(here, segs)
                if path is not None:
                    self.refs[m].append((path, line, False))

    def resolve(self, path, seen=None):
        """The module file that defines what `path` names: the deepest module on the path, and
        through re-exports to the defining module when the last segment is an item."""
        seen = seen or set()
        module = ()
        for i, seg in enumerate(path):
            nxt = module + (seg,)
            if nxt in self.files:
                module = nxt
                continue
            if seg in self.reexports.get(module, {}) and (module, seg) not in seen:
                seen.add((module, seg))
                return self.resolve(self.reexports[module][seg], seen)
            break
        return module

    def edges(self):
        found = {}
        for m in self.files:
            for path, line, is_reexport in self.refs[m]:
                if is_reexport:
                    continue
                target = self.resolve(path)
                if target != m:
                    found.setdefault((m, target), line)
        return found


def cycles(nodes, edges):
    """Tarjan's strongly connected components of two or more nodes."""
    graph = {n: [] for n in nodes}
    for a, b in edges:
        graph[a].append(b)
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for n in nodes:
        if n not in index:
            visit(n)
    return out


def name(crate, module):
    return "::".join([crate] + list(module))


def main(args):
    here = Path(__file__).resolve().parent.parent
    crates = args or ["app", "backend", "server"]
    failed = False
    for c in crates:
        crate = Crate(here / c)
        edges = crate.edges()
        groups = cycles(list(crate.files), edges)
        print(f"{c}: {len(crate.files)} modules, {len(edges)} dependencies, {len(groups)} cycles")
        for group in groups:
            failed = True
            print(f"  cycle: {', '.join(name(c, g) for g in group)}")
            for (a, b), line in sorted(edges.items()):
                if a in group and b in group:
                    rel = crate.files[a].relative_to(here)
                    print(f"    {name(c, a)} -> {name(c, b)}  ({rel}:{line})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
