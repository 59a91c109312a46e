#!/usr/bin/env python3
"""Keeps the shared cargo target dir from filling the disk.

The target dir lives outside the clone (~/.cache/ra-portal/target) so that warm runs reuse it. But
every change of a workspace crate, every other clone path and every feature set leaves one more
test binary (~0.5 GB each in debug), one more incremental cache (~0.8 GB) and one more rlib behind,
and cargo never deletes them: after a few days of work the debug dir held 65 GB and a CI run failed
with "No space left on device". This removes what no build of today can use again:

- in each profile's deps/, the older builds of a workspace crate's binaries, libraries and test
  binaries (the newest KEEP of each name stay; the others are rebuilt if ever needed);
- in each profile's incremental/, all but the newest KEEP caches of each crate.

Dependencies from crates.io are never touched: they are built once and stay valid.
"""

import os
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

# The developer's checkout and CI's clean clone (its other path gives workspace crates another
# hash), each with a feature set or two (tests, clippy): four builds of a name are kept.
KEEP = 4
WORKSPACE = {"app", "backend", "server", "domain", "site_build", "bench", "ra_portal", "ra_bench"}
HASHED = re.compile(r"^(lib)?(?P<name>[A-Za-z0-9_]+)-(?P<hash>[0-9a-f]{16})(?P<ext>\..*)?$")


def size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def workspace_test_names(deps: Path) -> set:
    """Test binaries are named after their file (tests/api.rs -> api-<hash>): read them from the .d files."""
    names = set()
    for d in deps.glob("*.d"):
        m = HASHED.match(d.name)
        if not m:
            continue
        try:
            head = d.read_text(errors="replace").split(":", 1)[1][:4000]
        except (OSError, IndexError):
            continue
        # The first source of a workspace crate's unit is inside the workspace, not ~/.cargo.
        if "/.cargo/registry/" not in head and "/rustlib/" not in head:
            names.add(m["name"])
    return names


def prune_deps(deps: Path) -> int:
    names = WORKSPACE | workspace_test_names(deps)
    builds = defaultdict(lambda: defaultdict(list))  # name -> hash -> files
    for f in deps.iterdir():
        m = HASHED.match(f.name)
        if m and m["name"] in names:
            builds[m["name"]][m["hash"]].append(f)
    freed = 0
    for by_hash in builds.values():
        newest_first = sorted(
            by_hash.values(), key=lambda files: max(f.stat().st_mtime for f in files), reverse=True
        )
        for files in newest_first[KEEP:]:
            for f in files:
                freed += size(f)
                if f.is_dir():
                    shutil.rmtree(f, ignore_errors=True)
                else:
                    f.unlink(missing_ok=True)
    return freed


def prune_incremental(incremental: Path) -> int:
    caches = defaultdict(list)
    for d in incremental.iterdir():
        if d.is_dir():
            caches[d.name.rsplit("-", 1)[0]].append(d)
    freed = 0
    for dirs in caches.values():
        for d in sorted(dirs, key=lambda d: d.stat().st_mtime, reverse=True)[KEEP:]:
            freed += size(d)
            shutil.rmtree(d, ignore_errors=True)
    return freed


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["CARGO_TARGET_DIR"])
    if not target.is_dir():
        return
    freed = 0
    # A profile's deps/ and incremental/: target/<profile>/…, target/<triple>/<profile>/… or, for
    # the site build's own target dir, target/front/<triple>/<profile>/….
    for depth in ("*", "*/*", "*/*/*"):
        for profile in target.glob(f"{depth}/deps"):
            freed += prune_deps(profile)
        for profile in target.glob(f"{depth}/incremental"):
            freed += prune_incremental(profile)
    free = shutil.disk_usage(target).free
    print(f"target dir: {freed / 1e9:.1f} GB of old builds removed, {free / 1e9:.1f} GB free on its disk")


if __name__ == "__main__":
    main()
