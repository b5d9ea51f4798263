# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The downtime benchmark: the collection's options 2 and 3, the raw floor of the database tools and the
playbook a user would otherwise write, on the same lab data, per engine. See bench/README.md."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# bench/run puts tests/ on the path; labsupport adds the lab, the emulator and the collection.
from labsupport import COLLECTIONS_PATH, ROOT, Traffic, start_lab, stop_lab

from lablib import compose

BIN = os.path.dirname(sys.executable)
# The steps of the downtime that are the clients' (stop, start, login, health and test message): the rest of it
# is its database part.
CLIENT_STEPS = ("stop_old", "start_new", "login_new", "verify_new")
# The peer that follows the old databases from before the downtime and cuts over in it, per engine.
FOLLOWERS = {"pgsql": "pgcopydb", "mysql": "replication"}
# How each option runs: as a user gets it (change capture where the engine has it), and with it turned off.
MODES = {"": (), "_off": ("-e", "wabiz_change_capture=off")}
PAYLOAD = 1000  # mean message body in bytes
# What a stored message takes with its row and index overhead, measured on the lab's servers.
ROW_BYTES = {"mysql": 1600, "pgsql": 1350}


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def client_databases(lab, name):
    """{database: bytes}; MariaDB's sizes are statistics, brought up to date first (the lab's own server)."""
    srv = lab.server(name)
    try:
        names = srv.select(lab.setup(name)["db_prefix"])
        if srv.engine == "mysql":
            for dbname in names:
                for table in [table_name for schema, table_name in srv.tables(dbname)]:
                    srv.query("ANALYZE TABLE %s.%s" % (srv.quote(dbname), srv.quote(table)))
        return {d: srv.size(d) for d in names}
    finally:
        srv.close()


def drop_client_databases(lab, name):
    srv = lab.server(name)
    try:
        for dbname in srv.select(lab.setup(name)["db_prefix"]):
            srv.drop_database(dbname)
    finally:
        srv.close()


def purge_binary_logs(lab, name):
    """MariaDB: the binary log written so far goes (the seeding's on the old server, a run's copy on the new one).
    At 16 GB each would fill the disk; no run reads it (change capture and the replication peer start later)."""
    srv = lab.server(name)
    try:
        if srv.engine == "mysql":
            srv.query("FLUSH BINARY LOGS")
            srv.query("PURGE BINARY LOGS BEFORE NOW()")
    finally:
        srv.close()


def reset(lab):
    """Back to the state before a migration: the old client serving, the new server and host empty."""
    lab.run("client", "down", "new")
    drop_client_databases(lab, "new")
    purge_binary_logs(lab, "new")
    lab.run("client", "up", "old")
    lab.client("old").wait_health(timeout=120, shards=lab.setup("old")["shards"] or None)
    for path in [os.path.join(lab.workdir, "runs")] + [os.path.join(lab.workdir, n, "backups") for n in ("old", "new")]:
        shutil.rmtree(path, ignore_errors=True)


def timed(argv, env=None):
    """Run a command; returns (seconds, peak RSS in MB of the biggest process in its tree)."""
    wrapper = ("import resource, subprocess, sys\n"
               "rc = subprocess.call(sys.argv[1:])\n"
               "sys.stderr.write('\\nPEAK_RSS_KB=%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(rc)\n")
    started = time.time()
    result = subprocess.run([sys.executable, "-c", wrapper] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, check=False)
    seconds = time.time() - started
    peak = int(result.stdout.rsplit("PEAK_RSS_KB=", 1)[1].split()[0]) / 1024.0
    if result.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(argv[:3]), result.stdout[-4000:]))
    return seconds, peak


# the raw floor --------------------------------------------------------------------------------------
def credentials_files(lab, directory):
    """Option files / a pgpass file for both servers: the floor keeps passwords off command lines too."""
    files = {}
    for name in ("old", "new"):
        setup = lab.setup(name)
        path = os.path.join(directory, name + (".cnf" if setup["engine"] == "mysql" else ".pgpass"))
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as handle:
            if setup["engine"] == "mysql":
                handle.write("[client]\nhost=127.0.0.1\nport=%d\nuser=root\npassword=\"%s\"\n"
                             "[mydumper]\nhost=127.0.0.1\nport=%d\nuser=root\npassword=\"%s\"\n"
                             "[myloader]\nhost=127.0.0.1\nport=%d\nuser=root\npassword=\"%s\"\n"
                             % ((setup["db_port"], setup["db_password"]) * 3))
            else:
                handle.write("127.0.0.1:%d:*:root:%s\n" % (setup["db_port"], setup["db_password"]))
        files[name] = path
    return files


FLOOR_SCRIPTS = {
    # Per database, two at a time (the machine has two cores), streaming from the old server into the new one.
    "pg_dump | psql (2 databases at a time)": (
        "pgsql",
        'printf "%s\\n" "${@}" | xargs -P 2 -I{} bash -o pipefail -c '
        '"PGPASSFILE=$NEW_PASS createdb -h 127.0.0.1 -p $NEW_PORT -U root {} && '
        'PGPASSFILE=$OLD_PASS pg_dump -h 127.0.0.1 -p $OLD_PORT -U root {} '
        '| PGPASSFILE=$NEW_PASS psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $NEW_PORT -U root -d {} >/dev/null"'),
    "mariadb-dump | mariadb (2 databases at a time)": (
        "mysql",
        'printf "%s\\n" "${@}" | xargs -P 2 -I{} bash -o pipefail -c '
        '"mariadb --defaults-extra-file=$NEW_CNF -e \'CREATE DATABASE \\`{}\\`\' && '
        'mariadb-dump --defaults-extra-file=$OLD_CNF --single-transaction --quick --hex-blob --databases {} '
        '| mariadb --defaults-extra-file=$NEW_CNF"'),
    "mydumper -t 2 + myloader -t 2": (
        "mysql",
        'regex="^($(IFS="|"; echo "${*}"))\\."; '
        'mydumper --defaults-file=$OLD_CNF --threads 2 --rows 100000 --regex "$regex" --outputdir "$WORK/mydumper" '
        '&& myloader --defaults-file=$NEW_CNF --threads 2 --directory "$WORK/mydumper" --overwrite-tables'),
}


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def measure_floor(lab, databases, work, repeat=1):
    """Each plain pipeline of the lab's engine on the databases option 3 moves, ``repeat`` times; the fastest
    pipeline by its median is the floor."""
    engine = lab.setup("old")["engine"]
    files = credentials_files(lab, work)
    env = dict(os.environ, OLD_PORT=str(lab.setup("old")["db_port"]), NEW_PORT=str(lab.setup("new")["db_port"]),
               OLD_PASS=files["old"], NEW_PASS=files["new"], OLD_CNF=files["old"], NEW_CNF=files["new"], WORK=work,
               PGCONNECT_TIMEOUT="10")
    lab.run("client", "down", "old", "--keep-volumes")  # the old client is stopped during a migration too
    results = {}
    for method, (method_engine, script) in FLOOR_SCRIPTS.items():
        if method_engine != engine:
            continue
        samples, peak = [], 0.0
        for dummy in range(repeat):
            drop_client_databases(lab, "new")
            purge_binary_logs(lab, "new")
            shutil.rmtree(os.path.join(work, "mydumper"), ignore_errors=True)
            seconds, run_peak = timed(["bash", "-euo", "pipefail", "-c", script, "floor"] + sorted(databases), env=env)
            samples.append(round(seconds, 2))
            peak = max(peak, run_peak)
        results[method] = {"seconds": median(samples), "samples": samples, "peak_rss_mb": round(peak, 1)}
        log("floor %s: %.1f s (median of %s)" % (method, median(samples), samples))
    shutil.rmtree(os.path.join(work, "mydumper"), ignore_errors=True)
    drop_client_databases(lab, "new")
    return results


def playbook_run(lab, playbook, *args, collections=COLLECTIONS_PATH):
    """ansible-playbook on the lab's inventory, timed; returns (seconds, peak RSS in MB)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1")
    inventory = os.path.join(lab.workdir, "inventory.yml")
    return timed([os.path.join(BIN, "ansible-playbook"), "-i", inventory, playbook] + list(args), env=env)


# the collection -------------------------------------------------------------------------------------
class Checkout:
    """A checkout of the collection whose playbooks run: this one, or a baseline (``--baseline``)."""

    def __init__(self, root, name):
        self.root = root
        self.name = name
        self.collections = COLLECTIONS_PATH
        self.tree = None
        if root != ROOT:
            self.tree = tempfile.mkdtemp(prefix="wabiz-baseline-", dir="/var/tmp")
            os.makedirs(os.path.join(self.tree, "ansible_collections", "wabiz"))
            os.symlink(root, os.path.join(self.tree, "ansible_collections", "wabiz", "migration"))
            self.collections = "%s:%s" % (self.tree, os.path.join(ROOT, ".collections"))

    def remove(self):
        if self.tree:
            shutil.rmtree(self.tree, ignore_errors=True)


def run_option(lab, option, checkout, extra=()):
    reset(lab)
    # The old client keeps taking messages until it is stopped, as in production: the copy ahead then has
    # something to catch up with in the downtime.
    traffic = Traffic(lab).start()
    try:
        seconds, peak = playbook_run(lab, os.path.join(checkout.root, "playbooks", "option%d.yml" % option),
                                     *extra, collections=checkout.collections)
    finally:
        live = len(traffic.stop())
    with open(os.path.join(lab.workdir, "runs", "old-setup__new-setup-report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    steps = {s["step"]: s["seconds"] for s in report["steps"]}
    copy = steps.get("copy_databases", 0.0)
    result = {"downtime": report["downtime_seconds"], "copy": copy, "wall": round(seconds, 2), "live_messages": live,
              "peak_rss_mb": round(peak, 1), "steps": steps, "sync": sync_summary(lab)}
    result["overhead"] = round(result["downtime"] - copy, 2)
    result["db_part"] = round(result["downtime"] - sum(steps.get(s, 0.0) for s in CLIENT_STEPS), 2)
    log("%s option %d%s: downtime %.1f s (database part %.1f s, copy and verify %.1f s), whole run %.1f s, peak RSS "
        "%.0f MB, %d messages sent to the old client during the run; the sync: %s" % (
            checkout.name, option, " " + " ".join(extra) if extra else "", result["downtime"], result["db_part"], copy,
            seconds, peak, live, json.dumps(result["sync"])))
    return result


def sync_summary(lab):
    """What the downtime's sync did, from the journal: the rows it read changed, what it compared in full and
    why, its phases' seconds; and what the capture's catch-up passes compared ahead of it (MariaDB)."""
    with open(os.path.join(lab.workdir, "runs", "old-setup__new-setup.json"), encoding="utf-8") as handle:
        steps = json.load(handle)["steps"]
    info = steps.get("copy_databases", {}).get("info", {})
    keys = ("seconds", "decoded", "compared_in_full", "capture_fallbacks", "copied_whole", "rows_copied")
    return dict([(key, info.get(key)) for key in keys]
                + [("caught_up", steps.get("capture_changes", {}).get("info", {}).get("caught_up"))])


# what a user would otherwise write ---------------------------------------------------------------------
def run_peer(lab, databases, work, copy="dump"):
    """bench/peer_option2.yml: the databases dumped and imported in the downtime (``copy="dump"``), or followed
    from before the downtime and cut over in it: by ``pgcopydb clone --follow`` (``copy="pgcopydb"``), or by
    MariaDB replication seeded from a dump at its GTID position (``copy="replication"``)."""
    reset(lab)
    new = lab.setup("new")
    compose_file = compose.write(new, lab.state["images"])
    times = os.path.join(work, "peer-times.json")
    names = sorted(d for d in databases if not d.endswith("waweb"))
    extra = {"peer_databases": names, "peer_copy": copy,
             "peer_old_compose": os.path.join(lab.setup("old")["compose_dir"], "docker-compose.yml"),
             "peer_old_project": lab.setup("old")["project"], "peer_new_compose": compose_file,
             "peer_new_project": new["project"], "peer_shards": new["shards"], "peer_work": work,
             "peer_times": times}
    extra_file = os.path.join(work, "peer-vars.json")
    followers, traffic = [], None
    if copy == "pgcopydb":
        extra["peer_pgpass"] = pgpass = os.path.join(work, "pgcopydb.pgpass")
        with open(os.open(pgpass, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.writelines("127.0.0.1:%d:*:root:%s\n" % (lab.setup(n)["db_port"], lab.setup(n)["db_password"])
                              for n in ("old", "new"))
        traffic = Traffic(lab).start()  # the follow has changes to carry over, as the options' copy ahead has
        followers = start_pgcopydb(lab, names, work, pgpass)
    if copy == "replication":
        traffic = Traffic(lab).start()
        start_replication(lab, names, work)
    with open(os.open(extra_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump(extra, handle)
    try:
        seconds, peak = playbook_run(lab, os.path.join(ROOT, "bench", "peer_option2.yml"), "-e", "@" + extra_file)
    finally:
        if traffic:
            traffic.stop()
        for process in followers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # pgcopydb and the processes it forked
            process.wait()
        if copy == "pgcopydb":
            clean_pgcopydb(lab, names)
        if copy == "replication":
            clean_replication(lab)
    with open(times, encoding="utf-8") as handle:
        marks = json.load(handle)
    downtime = round(float(marks["end"]) - float(marks["start"]), 2)
    db_part = round(float(marks["db_end"]) - float(marks["db_start"]), 2)
    log("peer option 2 (%s): downtime %.1f s (database part %.1f s), whole run %.1f s"
        % (copy, downtime, db_part, seconds))
    return {"downtime": downtime, "db_part": db_part, "wall": round(seconds, 2), "peak_rss_mb": round(peak, 1)}


def start_pgcopydb(lab, names, work, pgpass):
    """``pgcopydb clone --follow`` per database (each its own slot and origin), started while the old client
    serves; returns once each has copied its database and applies changes."""
    srv, old = lab.server("new"), lab.server("old")
    try:
        for dbname in names:
            srv.execute("CREATE DATABASE %s" % srv.quote(dbname))
            # pgcopydb 0.10 notices its end position only on a change of its own database decoded after it (on
            # an idle source it waits for ever): a heartbeat row the cut-over updates, as its users add.
            old.execute("CREATE TABLE pgcopydb_heartbeat (id INT PRIMARY KEY, beat BIGINT); "
                        "INSERT INTO pgcopydb_heartbeat VALUES (1, 0)", dbname=dbname)
    finally:
        srv.close()
        old.close()
    env = dict(os.environ, PGPASSFILE=pgpass)
    followers = []
    for dbname in names:
        command = ("pgcopydb clone --follow --source %s --target %s --dir %s --slot-name pgcopydb_%s --origin "
                   "pgcopydb_%s --table-jobs 2 --index-jobs 2 > %s 2>&1; echo $? > %s" % (
                       uri(lab, "old", dbname), uri(lab, "new", dbname), os.path.join(work, "pgcopydb-" + dbname),
                       dbname, dbname, os.path.join(work, "pgcopydb-%s.log" % dbname),
                       os.path.join(work, "pgcopydb-%s.exit" % dbname)))
        followers.append(subprocess.Popen(["sh", "-c", command], env=env, start_new_session=True))
    started = time.time()
    for dbname in names:
        while True:
            state = subprocess.run(["pgcopydb", "stream", "sentinel", "get", "--source", uri(lab, "old", dbname)],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, check=False)
            if state.returncode == 0 and "enabled" in state.stdout.split("apply", 1)[-1].split("\n", 1)[0]:
                break
            if os.path.exists(os.path.join(work, "pgcopydb-%s.exit" % dbname)) or time.time() - started > 3600:
                raise RuntimeError("pgcopydb of %s did not reach its follow phase: see %s" % (
                    dbname, os.path.join(work, "pgcopydb-%s.log" % dbname)))
            time.sleep(1)
    log("pgcopydb: %d databases copied in %.0f s, following" % (len(names), time.time() - started))
    return followers


def start_replication(lab, names, work):
    """The new MariaDB server made a replica of the old one for ``names``: seeded with mariadb-dump
    --single-transaction --gtid --master-data=1 (which sets its gtid_slave_pos to the dump's moment), then
    replicating from there with MASTER_USE_GTID while the old client serves; returns once it replicates."""
    files = credentials_files(lab, work)
    old = lab.setup("old")
    started = time.time()
    srv = lab.server("new")
    try:
        srv.execute("SET GLOBAL replicate_do_db = %s", (",".join(names),))
    finally:
        srv.close()
    subprocess.run(["bash", "-euo", "pipefail", "-c",
                    'mariadb-dump --defaults-extra-file="$1" --single-transaction --quick --hex-blob --gtid '
                    '--master-data=1 --databases "${@:3}" | mariadb --defaults-extra-file="$2"', "seed",
                    files["old"], files["new"]] + names, check=True)
    srv = lab.server("new")
    try:
        srv.execute("CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %s, MASTER_USER = 'root', "
                    "MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos", (old["db_port"], old["db_password"]))
        srv.execute("START SLAVE")
        deadline = time.time() + 300
        # Slave_running: ON once both replication threads run.
        while srv.query("SHOW GLOBAL STATUS LIKE 'Slave_running'")[0][1] != "ON":
            if time.time() > deadline:
                raise RuntimeError("the new server does not replicate: %s" % (srv.query("SHOW SLAVE STATUS"),))
            time.sleep(0.5)
    finally:
        srv.close()
    log("replication: %d databases seeded in %.0f s, replicating" % (len(names), time.time() - started))


def clean_replication(lab):
    """The new server no replica any more (the peer's cut-over did it; after a failure, this)."""
    srv = lab.server("new")
    try:
        srv.execute("STOP SLAVE")
        srv.execute("RESET SLAVE ALL")
        srv.execute("SET GLOBAL replicate_do_db = ''")
    finally:
        srv.close()


def uri(lab, name, dbname):
    return "postgres://root@127.0.0.1:%d/%s" % (lab.setup(name)["db_port"], dbname)


def clean_pgcopydb(lab, names):
    """pgcopydb's slots and its schema on the old databases, and its replication origins on the new server (they
    outlive the databases: the next run's origin of the same name would be refused), gone again."""
    srv, new = lab.server("old"), lab.server("new")
    try:
        for dbname in names:
            srv.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                      ("pgcopydb_" + dbname,))
            srv.execute("DROP SCHEMA IF EXISTS pgcopydb CASCADE; DROP TABLE IF EXISTS pgcopydb_heartbeat",
                        dbname=dbname)
            new.query("SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = %s",
                      ("pgcopydb_" + dbname,))
    finally:
        srv.close()
        new.close()


def median_run(runs):
    """The run with the median downtime (an odd number of runs), with every run's downtime beside it and the
    peak RSS of all of them."""
    chosen = sorted(runs, key=lambda r: r["downtime"])[(len(runs) - 1) // 2]
    return dict(chosen, samples=[r["downtime"] for r in runs], peak_rss_mb=max(r["peak_rss_mb"] for r in runs))


def bench_engine(engine, size_mb, shards, options, repeat=1, baseline=None, peers=True, mode=""):
    """One lab of ``engine`` seeded with ``size_mb``: the floor, each option (with change capture and without),
    and with ``peers`` the dump peer and the engine's follower peer (pgcopydb, MariaDB replication). With
    ``baseline``, this checkout's options run in ``mode`` (a key of MODES) beside the baseline's."""
    log("%s: lab with %d shard(s), seeding about %d MB of messages" % (engine, shards, size_mb))
    lab = start_lab(engine, shards, messages=0)
    work = tempfile.mkdtemp(prefix="wabiz-bench-", dir="/var/tmp")
    try:
        started = time.time()
        lab.run("seed", "--messages", str(max(1000, size_mb * 1024 * 1024 // ROW_BYTES[engine])), "--size", str(PAYLOAD))
        lab.run("inventory")
        purge_binary_logs(lab, "old")
        databases = client_databases(lab, "old")
        log("seeded in %.0f s: %s" % (time.time() - started, ", ".join(
            "%s %.0f MB" % (d, s / 1e6) for d, s in sorted(databases.items()))))
        result = {"engine": engine, "shards": shards, "data_mb": round(sum(databases.values()) / 1e6, 1),
                  "messages_mb": round(sum(s for d, s in databases.items() if "messages" in d) / 1e6, 1),
                  "floor": measure_floor(lab, databases, work, repeat), "repeat": repeat}
        result["floor_seconds"] = min(m["seconds"] for m in result["floor"].values())
        current = Checkout(ROOT, "this checkout")
        # Each option runs with change capture (as a user gets it) and without.
        modes = MODES if baseline is None else {"": ()}
        for option in options:
            if baseline is None:
                for suffix, extra in modes.items():
                    result["option%d%s" % (option, suffix)] = median_run([run_option(lab, option, current, extra)
                                                                          for dummy in range(repeat)])
                continue
            # Side by side on the same lab and data, in turns (which goes first alternates).
            runs = {"option": [], "baseline": []}
            for number in range(repeat):
                turns = [("option", current), ("baseline", baseline)]
                for key, checkout in (turns if number % 2 else turns[::-1]):
                    runs[key].append(run_option(lab, option, checkout, MODES[mode] if checkout is current else ()))
            result["option%d" % option] = median_run(runs["option"])
            result["baseline_option%d" % option] = median_run(runs["baseline"])
        if peers:
            result["peer"] = median_run([run_peer(lab, databases, work) for dummy in range(repeat)])
            result["follower_name"] = FOLLOWERS[engine]
            result["follower"] = median_run([run_peer(lab, databases, work, FOLLOWERS[engine])
                                             for dummy in range(repeat)])
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
        stop_lab(lab)


def table(results, options):
    baseline = any("baseline_option%d" % o in r for r in results for o in options)
    off = any("option%d_off" % o in r for r in results for o in options)
    follower = any("follower" in r for r in results)
    head = ["engine", "data MB", "floor s"] + ["option %d s" % o for o in options] + [
        "opt %d DB s" % o for o in options]
    if off:
        head += ["opt %d no capture s" % o for o in options] + ["no capture DB s" for o in options]
    head += ["peer s", "peer DB s"] + (["follower", "follower s", "follower DB s"] if follower else []) + [
        "opt %d / floor" % o for o in options] + ["peer / opt %d" % o for o in options]
    if baseline:
        head += ["baseline opt %d s" % o for o in options] + ["opt %d / baseline" % o for o in options]
    head.append("peak RSS MB")

    def cell(run, key="downtime"):
        return "%.1f" % run[key] if run else "-"
    rows = []
    for r in results:
        row = [r["engine"], "%.0f" % r["data_mb"], "%.1f" % r["floor_seconds"]]
        row += [cell(r["option%d" % o]) for o in options] + [cell(r["option%d" % o], "db_part") for o in options]
        if off:
            row += [cell(r.get("option%d_off" % o)) for o in options]
            row += [cell(r.get("option%d_off" % o), "db_part") for o in options]
        row += [cell(r.get("peer")), cell(r.get("peer"), "db_part")]
        if follower:
            row += [r.get("follower_name", "-"), cell(r.get("follower")), cell(r.get("follower"), "db_part")]
        row += ["%.2f" % (r["option%d" % o]["downtime"] / r["floor_seconds"]) for o in options]
        row += ["%.2f" % (r["peer"]["downtime"] / r["option%d" % o]["downtime"]) if "peer" in r else "-"
                for o in options]
        if baseline:
            row += (["%.1f" % r["baseline_option%d" % o]["downtime"] for o in options]
                    + ["%.2f" % (r["option%d" % o]["downtime"] / r["baseline_option%d" % o]["downtime"])
                       for o in options])
        row.append("%.0f" % peak_rss(r))
        rows.append(row)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]

    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def peak_rss(result):
    """The biggest single process any run of this checkout started (ansible-playbook, a module, a database tool);
    the peers' are left out: they are not the collection's."""
    return max(run["peak_rss_mb"] for key, run in result.items()
               if key.startswith("option") and isinstance(run, dict))


def growth(results, options):
    """Per engine, how the downtime (and its database part) grew from the smallest data size to the largest."""
    lines = []
    for engine in sorted(set(r["engine"] for r in results)):
        runs = sorted((r for r in results if r["engine"] == engine), key=lambda r: r["data_mb"])
        if len(runs) < 2:
            continue
        small, large = runs[0], runs[-1]
        parts = []
        for key in ["option%d%s" % (o, m) for o in options for m in MODES] + ["peer", "follower"]:
            if key in small and key in large:
                parts.append("%s x%.2f (database part x%.2f)" % (
                    key.replace("_off", " without capture"), large[key]["downtime"] / small[key]["downtime"],
                    large[key]["db_part"] / max(small[key]["db_part"], 0.01)))
        lines.append("%s, %.0f MB -> %.0f MB (data x%.2f): downtime %s" % (
            engine, small["data_mb"], large["data_mb"], large["data_mb"] / small["data_mb"], ", ".join(parts)))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=("mysql", "pgsql", "both"), default="both")
    parser.add_argument("--size-mb", default="1024",
                        help="message data to seed, or several sizes, comma-separated, each on a lab of its own "
                             "(default 1 GB; 1024,4096 prints the downtime's growth)")
    parser.add_argument("--shards", type=int, default=2, help="0 = single instance")
    parser.add_argument("--options", default="2,3", help="collection options to run, e.g. 2,3 or 1,2,3")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the floor, each option and the peer; the table shows medians (default 3)")
    parser.add_argument("--json", default=os.path.join(ROOT, "bench", "results.json"), help="where to write results")
    parser.add_argument("--baseline", help="another checkout of the collection (a git worktree of an earlier commit): "
                                           "its options run beside this one's on the same lab and data")
    parser.add_argument("--capture", choices=("auto", "off"), default="auto",
                        help="with --baseline: this checkout's wabiz_change_capture (off: is the fallback as fast?)")
    parser.add_argument("--no-peers", dest="peers", action="store_false",
                        help="leave out the peers (a memory check at a size where they would take an hour)")
    args = parser.parse_args(argv)
    options = [int(o) for o in args.options.split(",")]
    sizes = [int(size) for size in args.size_mb.split(",")]
    engines = ("mysql", "pgsql") if args.engine == "both" else (args.engine,)
    if args.repeat < 1 or args.repeat % 2 == 0:
        parser.error("--repeat must be an odd number (the median of its runs is reported)")
    baseline = Checkout(os.path.abspath(args.baseline), "baseline") if args.baseline else None
    try:
        # Side by side with a baseline, the peers are left out: the comparison is of the two checkouts.
        results = [bench_engine(engine, size, args.shards, options, args.repeat, baseline, peers=args.peers and baseline is None,
                                mode="_off" if args.capture == "off" else "")
                   for engine in engines for size in sizes]
    finally:
        if baseline:
            baseline.remove()
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump({"size_mb": sizes, "shards": args.shards, "cpus": os.cpu_count(), "baseline": args.baseline,
                   "ru_maxrss_note": "peak RSS of the biggest single process a run started", "results": results},
                  handle, indent=2)
    print(table(results, options))
    print(growth(results, options))
    print("results: %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
