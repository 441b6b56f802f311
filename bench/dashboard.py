"""Dashboard benchmark: how long the IG lead's /dashboard takes to load over a SQLite trail of
1,000,000 entries (by default), through the real service, signed in as an admin.

The trail is built fast but in the real entry format: a few hundred varied requests are
decided by the shipped pack and their bodies made by `decision_body` (pseudonymised, as the
service stores them); each entry is one of those bodies with its own time (spread over a
year), decision id and person, hash-chained and appended in large batches through
`AuditTrail.append_many`. About 1 in 200 entries is a break-glass access, nearly all of them
reviewed (a review entry as `audit review --mark` makes), so a few dozen await review.

Printed: the first load's time (it counts the whole trail into the report's daily tally, once);
then the page's load time, median and p99 of --loads loads of a year's dashboard, each after
--between new decisions were appended (which that load adds to the tally); and, as a baseline
in the same process, the straightforward SQL for the same counts (one GROUP BY over the
period's rows), whose cost grows with the trail.

    .venv/bin/python bench/dashboard.py                    # 1,000,000 entries
    .venv/bin/python bench/dashboard.py --entries 100000 --keep /tmp/trail.db
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

from fastapi.testclient import TestClient  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402

from igengine import Engine  # noqa: E402
from igengine.audit import AuditEntry, AuditTrail  # noqa: E402
from igengine.audit.entry import ChainRow, decision_body, review_body, timestamp  # noqa: E402
from igengine.audit.keys import Pseudonymiser  # noqa: E402
from igengine.audit.store import Tables, pending_sql  # noqa: E402
from igengine.request import parse_request  # noqa: E402
from service import Settings, create_app  # noqa: E402
from service.auth import Access, digest, key_entry  # noqa: E402

ADMIN_KEY = "igk_bench_admin_key_000000000000"
BATCH = 5000
PEOPLE = 50_000
# Stand-ins replaced in each entry's body: the decision id and the person's pseudonym.
ID_MARK = "00000000-0000-4000-8000-000000000000"
PERSON_MARK = "PERSON-MARK"


def templates(engine: Engine, count: int, rng: random.Random) -> list[tuple[str, bool]]:
    """`count` entry bodies of varied decided requests (with the two stand-ins), and whether
    each is break-glass."""
    pack = engine.pack
    organisations = sorted(pack.organisations)
    purposes = pack.vocabulary.codes("purposes")
    bodies: list[tuple[str, bool]] = []
    mark = Pseudonymiser(b"k" * 32)
    while len(bodies) < count:
        emergency = rng.random() < 0.05
        request = parse_request(
            {
                "requester": {
                    "role": rng.choice(["social_worker", "gp", "ward_nurse", "district_nurse",
                                        "consultant", "police_officer", "analyst"]),
                    "organisation": rng.choice(organisations),
                    "id": f"staff-{rng.randrange(500)}",
                },
                "holder": {"organisation": rng.choice(organisations)},
                "purpose": "emergency_care" if emergency else rng.choice(purposes),
                "record_type": rng.choice(pack.vocabulary.codes("record_types")),
                "subject": {
                    "id": PERSON_MARK,
                    "relationship": rng.choice(pack.vocabulary.person["relationship"].codes),
                    **({"has_capacity": False} if emergency else {}),
                },
                **({"justification": "unconscious in ED"} if emergency else {}),
            }
        )  # fmt: skip
        decision = engine.decide(request).model_copy(update={"decision_id": ID_MARK})
        body = decision_body(request, decision, mark, datetime.now(UTC))
        body = body.replace(mark(PERSON_MARK), PERSON_MARK)
        bodies.append((body, '"break_glass":true' in body))
    return bodies


def build_trail(url: str, hmac_key: Path, entries: int, seed: int) -> int:
    """Append `entries` entries (decisions, and reviews of most break-glass ones); returns
    how many break-glass decisions are left unreviewed."""
    rng = random.Random(seed)
    engine = Engine.from_directory(ROOT / "policies")
    shapes = templates(engine, 400, rng)
    pseudonym = Pseudonymiser(hmac_key.read_bytes())
    people = [pseudonym(f"{9_000_000_000 + n}") for n in range(PEOPLE)]
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / entries
    unreviewed = 0
    # A bar on a terminal; nothing when the output is kept in a file.
    progress = Progress(console=Console(stderr=True), disable=not sys.stderr.isatty())
    with AuditTrail.open(url, hmac_key_path=hmac_key) as trail, progress:
        task = progress.add_task("building the trail", total=entries)
        bodies: list[str] = []
        written = 0
        for n in range(entries):
            body, glass = shapes[rng.randrange(len(shapes))]
            at = timestamp(start + step * n)
            body = '{"at":"' + at + body[len('{"at":"') + len(at) :]
            body = body.replace(ID_MARK, str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            bodies.append(body.replace(PERSON_MARK, people[rng.randrange(PEOPLE)]))
            if glass and rng.random() < 0.998:
                decided = AuditEntry.from_row(ChainRow(written + len(bodies), "", "", body))
                bodies.append(review_body(decided, "IG lead", "proportionate", decided.at))
            elif glass:
                unreviewed += 1
            if len(bodies) >= BATCH:
                written += len(trail.append_many(bodies))
                bodies = []
                progress.update(task, completed=n + 1)
        if bodies:
            trail.append_many(bodies)
    return unreviewed


def fresh_bodies(shapes: list[tuple[str, bool]], rng: random.Random, count: int) -> list[str]:
    """`count` decisions made now (none break-glass), as the service would append them."""
    now = timestamp(datetime.now(UTC))
    plain = [body for body, glass in shapes if not glass]
    bodies = []
    for _ in range(count):
        body = rng.choice(plain)
        body = '{"at":"' + now + body[len('{"at":"') + len(now) :]
        body = body.replace(ID_MARK, str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        bodies.append(body.replace(PERSON_MARK, f"{rng.getrandbits(64):016x}"))
    return bodies


def load_times(url: str, work: Path, loads: int, between: int) -> tuple[float, list[float]]:
    """Seconds for the first load of a year's dashboard (which counts the whole trail into the
    daily tally), then per load with `between` new decisions appended before each, through the
    service, signed in as admin."""
    keys = work / "keys.toml"
    keys.write_text(key_entry("ig-lead", Access.ADMIN, digest(ADMIN_KEY)))
    settings = Settings(
        policies=ROOT / "policies",
        audit_url=url,
        hmac_key=work / "hmac.key",
        signing_key=None,
        keys_file=keys,
        session_secret="bench",
    )
    rng = random.Random(7)
    shapes = templates(Engine.from_directory(ROOT / "policies"), 100, rng)
    with TestClient(create_app(settings)) as client, AuditTrail.open(url) as writer:
        form = client.get("/login").text
        csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"key": ADMIN_KEY, "csrf": csrf})
        first = _timed_load(client)
        times = []
        for _ in range(loads):
            if between:
                writer.append_many(fresh_bodies(shapes, rng, between))
            times.append(_timed_load(client))
    return first, times


def _timed_load(client: TestClient) -> float:
    started = time.perf_counter()
    page = client.get("/dashboard?days=365")
    spent = time.perf_counter() - started
    assert page.status_code == 200 and "Decisions by purpose" in page.text, page.text[:500]
    return spent


def baseline_times(path: Path, runs: int) -> list[float]:
    """The same counts by the straightforward SQL: one GROUP BY over the year's rows."""
    first = timestamp(datetime.now(UTC) - timedelta(days=366))
    times = []
    for _ in range(runs):
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA mmap_size=2147483648")
        started = time.perf_counter()
        conn.execute(
            "SELECT json_extract(body, '$.request.purpose'), organisation, effect, "
            "json_extract(body, '$.decision.rules[0].id'), "
            "json_extract(body, '$.decision.error') IS NULL, count(*) "
            "FROM audit_entries WHERE at >= ? AND kind = 'decision' GROUP BY 1, 2, 3, 4, 5",
            (first,),
        ).fetchall()
        times.append(time.perf_counter() - started)
        conn.close()
    return times


def pending_times(url: str, path: Path, runs: int) -> tuple[list[float], list[float]]:
    """Seconds to find the break-glass decisions awaiting review: as the trail finds them
    (through its reviewable-entries index), and by the shared NOT EXISTS query (baseline)."""
    found, baseline = [], []
    for _ in range(runs):
        with AuditTrail.open(url, create=False) as trail:
            started = time.perf_counter()
            pending = trail.pending_reviews()
            found.append(time.perf_counter() - started)
        conn = sqlite3.connect(path)
        started = time.perf_counter()
        rows = conn.execute(pending_sql(Tables.named("audit_"), "1")).fetchall()
        baseline.append(time.perf_counter() - started)
        conn.close()
        assert len(rows) == len(pending)
    return found, baseline


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=20, help="dashboard loads timed")
    parser.add_argument(
        "--between", type=int, default=1000, help="decisions appended before each timed load"
    )
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the trail at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        path = args.keep or work / "audit.db"
        hmac_key = path.with_suffix(".hmac.key")
        if not hmac_key.exists():
            hmac_key.write_bytes(uuid.uuid4().bytes * 2)
        (work / "hmac.key").write_bytes(hmac_key.read_bytes())
        url = f"sqlite:///{path.resolve()}"
        if not path.exists():
            started = time.perf_counter()
            unreviewed = build_trail(url, hmac_key, args.entries, args.seed)
            built = time.perf_counter() - started
            print(f"built {args.entries:,} decisions in {built:.1f} s ({unreviewed} unreviewed)")
        size = path.stat().st_size / 2**20
        print(f"trail: {path} ({size:,.0f} MiB, {_count(path):,} entries)")
        first, loads = load_times(url, work, args.loads, args.between)
        baseline = baseline_times(path, args.baseline_runs)
        pending, pending_baseline = pending_times(url, path, args.baseline_runs)
    print(f"first load (counts all {_entries_word(args)} into the daily tally once): {first:.1f} s")
    report(loads, baseline, args.between)
    print(
        f"break-glass decisions awaiting review: {statistics.median(pending) * 1000:.0f} ms "
        f"(median of {len(pending)}); the shared NOT EXISTS query: "
        f"{statistics.median(pending_baseline) * 1000:.0f} ms "
        f"({statistics.median(pending_baseline) / statistics.median(pending):.0f}x)"
    )


def _count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT max(seq) FROM audit_entries").fetchone()[0])


def _entries_word(args: argparse.Namespace) -> str:
    return f"{args.entries:,}+ entries"


def report(loads: list[float], baseline: list[float], between: int) -> None:
    rows: list[tuple[str, list[float]]] = [
        (f"dashboard page (a year; +{between:,} new)", loads),
        ("baseline: GROUP BY over the rows", baseline),
    ]
    print(f"{'':40} {'median':>10} {'p99':>10} {'runs':>6}")
    for name, times in rows:
        print(
            f"{name:40} {statistics.median(times) * 1000:>8.0f} ms "
            f"{percentile(times, 0.99) * 1000:>7.0f} ms {len(times):>6}"
        )
    ratio = statistics.median(baseline) / statistics.median(loads)
    print(f"the whole page loads {ratio:.1f}x faster than the baseline query alone")


if __name__ == "__main__":
    main()
