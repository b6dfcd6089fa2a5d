#!/usr/bin/env python3
"""Crash torture (issue 12, item 8): kill casevault with SIGKILL at random
moments and check that nothing acknowledged is lost.

    scripts/crash-torture.py PATH-TO-CASEVAULT [--iterations 200] [--seed N] [--keep]

In a private scratch folder (removed at the end unless --keep) it makes a
vault with the test-only key derivation, then, for each iteration, starts
one of the operations that write (a filing of a small, medium or large file;
a bulk filing of six files from a manifest; a key rotation of a case; a
disposal by `retention apply` of a case prepared and approved for it; an
`import case`, into a second vault, of a case just transferred to it; an
`export handover` of a new case's two documents), kills it with SIGKILL after a random part of the time
it took undisturbed (0 to 1.5 times: some runs finish first), and runs
`verify --json`. After every iteration:

  - verify must find no fault; leftovers of the kill (orphan objects,
    unfinished temporary files) are notes, not faults, and are counted;
    every tenth iteration `verify --repair` removes them and the next verify
    must report none;
  - the filing just acknowledged (exit 0) and one acknowledged earlier, at
    random, must read back byte for byte with `get`;
  - a killed bulk filing is run again, unkilled: it must finish, report the
    rows the killed run committed as already filed, and file every row as
    version 1 of its new document (a version 2 would be a row filed twice);
  - a killed import is run again, unkilled: it must import the case, or
    find it imported (the killed run had committed); either way every
    document must read back byte for byte in the receiving vault, whose
    verify must find no fault either (a import's objects are named in
    advance, so a run killed while writing one leaves it cut short under
    its final name for the next run to replace);
  - an export that reported success must have left a package that opens for
    its recipient with every document byte for byte; a killed one may leave
    no package, or (killed between publishing the file and signing its
    event) one that `package open` refuses as no export of the log, leaving
    nothing; no package half-written under its name either way; and the
    log names an export of the case exactly when its package opened.

At the end every acknowledged filing is read back, and the totals printed:
iterations, kills, acknowledged filings, lost filings, verify failures.
The exit code is 0 only when nothing was lost and verify never failed.
Test inputs are random bytes made here, not case content.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

STAFF = [("grace", "Grace Otieno", "case-manager"), ("halima", "Halima Abdi", "case-supervisor"),
         ("farah", "Farah Nasser", "records-officer"), ("dora", "Dora Achieng", "project-director")]
WORK_CASES = ["CP-2024-0001", "CP-2024-0002", "CP-2024-0003"]
SIZES = {"small": 4 << 10, "medium": 2 << 20, "large": 24 << 20}


class Torture:
    def __init__(self, binary, scratch, rng):
        self.binary, self.scratch, self.rng = binary, scratch, rng
        self.vault = os.path.join(scratch, "vault")
        self.env = dict(os.environ, CASEVAULT_DIR=self.vault, CASEVAULT_INSECURE_TEST_KDF="1",
                        CASEVAULT_STATE_DIR=os.path.join(scratch, "state"))
        self.env.pop("CASEVAULT_STAFF", None)
        self.acknowledged = []  # (case, document, version, sha256)
        self.totals = dict(iterations=0, killed=0, finished=0, acknowledged=0, lost=0, verify_failures=0,
                           leftover_notes=0, repairs=0, reads=0, batches_resumed=0, rows_already_filed=0, duplicates=0,
                           imports_acknowledged=0, imports_resumed=0, packages_opened=0, packages_refused=0,
                           opens_killed=0, opens_killed_extracting=0)
        self.by_kind = {}
        self.next_client = 100
        self.failures = []
        # The receiving office of the transfers: its own vault, the same state folder.
        self.vault_b = os.path.join(scratch, "vault-b")
        self.env_b = dict(self.env, CASEVAULT_DIR=self.vault_b)
        self.imports = []  # (case, document, None: the latest version, sha256) acknowledged in vault B

    def path(self, name):
        return os.path.join(self.scratch, name)

    def args_as(self, who):
        return ["--as", who, "--passphrase-file", self.path(who + ".pw")]

    def run(self, args, check=True):
        done = subprocess.run([self.binary] + args, env=self.env, cwd=self.scratch, capture_output=True)
        if check and done.returncode != 0:
            raise SystemExit("crash-torture: set-up step failed: casevault %s\n%s" % (" ".join(args), done.stderr.decode(errors="replace")))
        return done

    def set_up(self):
        for who in ["amina"] + [s[0] for s in STAFF]:
            with open(self.path(who + ".pw"), "w") as f:
                f.write("%s torture passphrase\n" % who)
        self.run(["init", self.vault, "--id", "amina", "--name", "Amina Yusuf", "--new-passphrase-file", self.path("amina.pw")])
        for who, name, role in STAFF:
            self.run(["staff", "add", "--id", who, "--name", name, "--role", role, "--new-passphrase-file", self.path(who + ".pw")] + self.args_as("amina"))
        for number in WORK_CASES:
            client = int(number.split("-")[2])
            self.run(["case", "open", "--category", "CP", "--admitted", "2024", "--client", str(client),
                      "--manager", "grace", "--supervisor", "halima"] + self.args_as("halima"))
        self.digests = {}
        for kind, size in SIZES.items():
            data = os.urandom(size)
            with open(self.path(kind + ".bin"), "wb") as f:
                f.write(data)
            self.digests[kind] = hashlib.sha256(data).hexdigest()
        # Disposal: closed cases are due at once and need a case supervisor's and a project director's approval.
        with open(os.path.join(os.path.dirname(__file__), "..", "Schemas", "examples", "retention-policy.json")) as f:
            policy = json.load(f)
        policy["vaultId"] = self.vault_id()
        policy["legalHolds"] = []
        policy["default"]["keep"] = {"years": 0}
        policy.pop("byStatus", None)
        policy["byCategory"] = []
        with open(self.path("policy.json"), "w") as f:
            json.dump(policy, f)
        self.run(["retention", "policy", "set", "policy.json"] + self.args_as("amina"))
        # Vault B: its admin, a case manager and Musa, the case supervisor who imports.
        with open(self.path("musa.pw"), "w") as f:
            f.write("musa torture passphrase\n")
        self.run_b(["init", self.vault_b, "--id", "amina", "--name", "Amina Yusuf", "--new-passphrase-file", self.path("amina.pw")])
        for who, name, role in [("grace", "Grace Otieno", "case-manager"), ("musa", "Musa Juma", "case-supervisor")]:
            self.run_b(["staff", "add", "--id", who, "--name", name, "--role", role, "--new-passphrase-file", self.path(who + ".pw")]
                       + self.args_as("amina"))
        self.run_b(["vault", "pubkey", "--member", "musa", "--out", self.path("musa.pub")])

    def run_b(self, args, check=True):
        done = subprocess.run([self.binary] + args, env=self.env_b, cwd=self.scratch, capture_output=True)
        if check and done.returncode != 0:
            raise SystemExit("crash-torture: set-up step failed in vault B: casevault %s\n%s" % (" ".join(args), done.stderr.decode(errors="replace")))
        return done

    def vault_id(self):
        with open(os.path.join(self.vault, "casevault.json")) as f:
            return json.load(f)["vaultId"]

    # The operations: each returns the arguments to run and what to record when it finishes.
    def filing(self):
        kind = self.rng.choice(list(SIZES))
        case = self.rng.choice(WORK_CASES)
        # Half go to one running document per case (new versions), half to a new document.
        document = "Running scan" if self.rng.random() < 0.5 else "Scan %d" % self.totals["iterations"]
        with open(self.path(kind + ".bin"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        args = ["file", case, "--name", document, "--type", "document", kind + ".bin"] + self.args_as("farah")
        return "file-" + kind, args, (case, document, digest)

    def bulk(self, label=None):
        """Six new documents, small and medium, over the work cases, from a manifest."""
        label = label or "%d" % self.totals["iterations"]
        rows, entries = ["case,path,type,name"], []
        for i in range(6):
            kind = self.rng.choice(["small", "medium"])
            case = self.rng.choice(WORK_CASES)
            name = "Bulk %s-%d" % (label, i)
            rows.append("%s,%s.bin,document,%s" % (case, kind, name))
            entries.append((case, name, self.digests[kind]))
        manifest = self.path("bulk-%s.csv" % label)
        with open(manifest, "w") as f:
            f.write("\n".join(rows) + "\n")
        return "bulk", ["file", "--manifest", manifest, "--json"] + self.args_as("farah"), ("bulk", entries)

    def finish_bulk(self, entries, out, killed, args):
        """Runs a killed batch again; then every row must be version 1 of its document."""
        if killed:
            again = self.run(args, check=False)
            self.totals["batches_resumed"] += 1
            if again.returncode != 0:
                self.failures.append("a killed batch run again exited %d: %s" % (again.returncode, again.stderr.decode(errors="replace")[:300]))
                return
            out = again.stdout
        rows = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        if len(rows) != len(entries):
            self.failures.append("a batch of %d reported %d rows" % (len(entries), len(rows)))
            return
        for (case, document, digest), row in zip(entries, rows):
            if (row["case"], row["document"]) != (case, document):
                self.failures.append("a batch reported %s '%s' for %s '%s'" % (row["case"], row["document"], case, document))
                continue
            if row["status"] == "already-filed":
                self.totals["rows_already_filed"] += 1
            if row["version"] != 1:
                self.totals["duplicates"] += 1
                self.failures.append("filed twice: %s '%s' is at version %d" % (case, document, row["version"]))
            entry = (case, document, row["version"], digest)
            self.acknowledged.append(entry)
            self.totals["acknowledged"] += 1
        self.read_back(self.acknowledged[-1])

    def rotation(self):
        case = self.rng.choice(WORK_CASES)
        return "rotate", ["case", "rotate", case, "--reason", "torture"] + self.args_as("halima"), None

    def named_case(self, year, *names):
        """A new case of grace and halima admitted in `year`, its client named (again) with each of `names` in turn."""
        client = self.next_client
        self.next_client += 1
        number = "CP-%d-%04d" % (year, client)
        self.run(["case", "open", "--category", "CP", "--admitted", str(year), "--client", str(client),
                  "--manager", "grace", "--supervisor", "halima"] + self.args_as("halima"))
        for name in names:
            self.run(["case", "name", number, name % client] + self.args_as("farah"))
        return number

    def disposal(self):
        # A named client, named again: the disposal erases the index's blob with the keys (verify: no blob-not-erased).
        number = self.named_case(2020, "Torture Client %d", "Torture Klient %d")
        for n in range(3):
            self.run(["file", number, "--name", "Note %d" % n, "--type", "document", "medium.bin"] + self.args_as("farah"))
        closure = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Schemas", "examples", "closure.json")
        self.run(["file", number, "--form", "closure", closure] + self.args_as("grace"))
        self.run(["case", "status", number, "C", "--reason", "torture"] + self.args_as("halima"))
        for who in ("halima", "dora"):
            self.run(["retention", "approve", number, "--reason", "torture"] + self.args_as(who))
        return "dispose", ["retention", "apply", "--approved-by", "halima,dora"] + self.args_as("amina"), None

    def transfer(self):
        """A new case with a small and a medium document, transferred to Musa of vault B: the import is what runs."""
        number = self.named_case(2021, "Transferred Client %d")
        entries = []
        for kind, name in (("small", "Letter"), ("medium", "Scan")):
            self.run(["file", number, "--name", name, "--type", "document", kind + ".bin"] + self.args_as("farah"))
            entries.append((number, name, self.digests[kind]))
        out = "transfer-%s.cvt" % number
        self.run(["export", "case", number, "--to-vault", self.path("musa.pub"), "--out", out, "--reason", "torture"] + self.args_as("halima"))
        args = ["import", "case", out, "--manager", "grace", "--as", "musa", "--passphrase-file", self.path("musa.pw")]
        return "import", args, ("import", entries)

    def export(self):
        """A new case with a small and a medium document, exported by grace to halima: the export is what runs."""
        number = self.named_case(2022, "Exported Client %d")
        digests = []
        for kind, name in (("small", "Letter"), ("medium", "Scan")):
            self.run(["file", number, "--name", name, "--type", "document", kind + ".bin"] + self.args_as("farah"))
            digests.append(self.digests[kind])
        out = "package-%s.cvp" % number
        args = ["export", "handover", "--cases", number, "--to", "halima", "--out", out] + self.args_as("grace")
        return "export", args, ("export", out, digests)

    def exports_signed(self, number):
        """How many package.exported events of the log name the case `number`."""
        done = self.run(["audit", "log", "--type", "package.exported", "--case", number, "--json", "--unanchored"], check=False)
        if done.returncode != 0:
            self.failures.append("audit log exited %d: %s" % (done.returncode, done.stderr.decode(errors="replace")[:300]))
            return 0
        return len([line for line in done.stdout.splitlines() if line.strip()])

    def finish_export(self, out, digests, killed, calibration=False):
        """A package under `out` must open for halima with every document, unless a kill left one the log does not
        name; either way the log names an export of the case exactly when a package opened (nothing exported is lost,
        nothing lost was recorded as exported)."""
        number = out[len("package-"):-len(".cvp")]
        if not os.path.exists(self.path(out)):
            if not killed:
                self.failures.append("an export that reported success left no package %s" % out)
            elif self.exports_signed(number):
                self.totals["lost"] += len(digests)
                self.failures.append("a killed export of %s was signed but left no package" % number)
            return
        opened = "opened-" + out
        if not calibration and self.rng.random() < 0.5:
            # A package open killed part-way leaves the plaintext it had extracted in a hidden
            # staging folder: the open below must remove it (the leftover check after it).
            half = "half-" + out
            process = subprocess.Popen([self.binary, "package", "open", out, "--out", half] + self.args_as("halima"), env=self.env,
                                       cwd=self.scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                process.wait(timeout=self.rng.uniform(0, 1.0) * self.durations["export"])
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                self.totals["opens_killed"] += 1
                # Killed while it extracted: its staging folder is there for the next open to remove.
                if any(name.startswith(".casevault-open-") and os.path.isdir(self.path(name)) for name in os.listdir(self.scratch)):
                    self.totals["opens_killed_extracting"] += 1
            if os.path.exists(self.path(half)):
                shutil.rmtree(self.path(half))
        done = self.run(["package", "open", out, "--out", opened] + self.args_as("halima"), check=False)
        # (A lock file a kill left before its rename is kept ten minutes, in case its run is only slow.)
        leftovers = [name for name in os.listdir(self.scratch) if name.startswith((".casevault-open-", ".casevault-scratch-"))
                     and not name.endswith(".lock-new")]
        if leftovers:
            self.failures.append("package open of %s left %s" % (out, leftovers[:3]))
        if done.returncode != 0:
            if not killed or b"no export signed in this vault's log made this package" not in done.stderr:
                self.failures.append("package open of %s%s exited %d: %s" % (
                    out, " (its export was killed)" if killed else "", done.returncode, done.stderr.decode(errors="replace")[:300]))
            elif self.exports_signed(number):
                self.totals["lost"] += len(digests)
                self.failures.append("the export of %s was signed, but its package is refused" % number)
            else:
                self.totals["packages_refused"] += 1
            if os.path.exists(self.path(opened)):
                self.failures.append("a refused package left %s" % opened)
        else:
            found = set()
            for folder, _, files in os.walk(self.path(opened)):
                for name in files:
                    with open(os.path.join(folder, name), "rb") as f:
                        found.add(hashlib.sha256(f.read()).hexdigest())
            missing = [d for d in digests if d not in found]
            if missing:
                self.totals["lost"] += len(missing)
                self.failures.append("the package %s lacks %d of its documents" % (out, len(missing)))
            if not calibration:
                self.totals["packages_opened"] += 1
            shutil.rmtree(self.path(opened))
        os.remove(self.path(out))

    def finish_import(self, entries, killed, args):
        """Runs a killed import again (imported, or found imported); then every document reads back in vault B."""
        if killed:
            again = self.run_b(args, check=False)
            if again.returncode not in (0, 73):  # 73: the killed run had committed (the case exists)
                self.failures.append("a killed import run again exited %d: %s" % (again.returncode, again.stderr.decode(errors="replace")[:300]))
                return
            self.totals["imports_resumed"] += 1
        for case, document, digest in entries:
            self.imports.append((case, document, None, digest))
            self.totals["imports_acknowledged"] += 1
            self.read_back(self.imports[-1], in_b=True)
        report = self.verify(in_b=True)
        if report is not None:
            self.totals["leftover_notes"] += len(report.get("notes", []))

    def calibrate(self):
        """How long each operation takes undisturbed, here."""
        self.durations = {}
        for kind in SIZES:
            start = time.monotonic()
            self.run(["file", WORK_CASES[0], "--name", "Calibration " + kind, "--type", "document", kind + ".bin"] + self.args_as("farah"))
            self.durations["file-" + kind] = time.monotonic() - start
            with open(self.path(kind + ".bin"), "rb") as f:
                self.acknowledged.append((WORK_CASES[0], "Calibration " + kind, 1, hashlib.sha256(f.read()).hexdigest()))
            self.totals["acknowledged"] += 1
        _, args, (_, entries) = self.bulk("calibration")
        start = time.monotonic()
        done = self.run(args)
        self.durations["bulk"] = time.monotonic() - start
        self.finish_bulk(entries, done.stdout, False, args)
        start = time.monotonic()
        self.run(["case", "rotate", WORK_CASES[0], "--reason", "calibration"] + self.args_as("halima"))
        self.durations["rotate"] = time.monotonic() - start
        _, args, _ = self.disposal()
        start = time.monotonic()
        applied = self.run(args)
        self.durations["dispose"] = time.monotonic() - start
        if b"disposed" not in applied.stdout:
            raise SystemExit("crash-torture: the calibration disposal disposed of nothing: %s" % applied.stdout.decode(errors="replace"))
        _, args, (_, entries) = self.transfer()
        start = time.monotonic()
        self.run_b(args)
        self.durations["import"] = time.monotonic() - start
        self.finish_import(entries, False, args)
        _, args, (_, out, digests) = self.export()
        start = time.monotonic()
        self.run(args)
        self.durations["export"] = time.monotonic() - start
        self.finish_export(out, digests, False, calibration=True)

    def read_back(self, entry, in_b=False):
        """An acknowledged version (case, document, version or None for the latest, sha256), read back with get."""
        case, document, version, digest = entry
        out = self.path("read-back.bin")
        if os.path.exists(out):
            os.remove(out)
        run = self.run_b if in_b else self.run
        done = run(["get", case, document] + ([str(version)] if version else []) + ["-o", "read-back.bin"] + self.args_as("grace"),
                   check=False)
        self.totals["reads"] += 1
        ok = done.returncode == 0 and os.path.exists(out)
        if ok:
            with open(out, "rb") as f:
                ok = hashlib.sha256(f.read()).hexdigest() == digest
            os.remove(out)
        if not ok:
            self.totals["lost"] += 1
            self.failures.append("lost%s: %s '%s' v%s (get exit %d: %s)" % (" in vault B" if in_b else "", case, document, version or "latest",
                                                                            done.returncode, done.stderr.decode(errors="replace").strip()[:200]))
        return ok

    def verify(self, repair=False, in_b=False):
        run = self.run_b if in_b else self.run
        done = run(["verify", "--json"] + (["--repair"] if repair else []), check=False)
        try:
            report = json.loads(done.stdout)
        except ValueError:
            report = None
        if done.returncode != 0 or report is None or report.get("findings"):
            self.totals["verify_failures"] += 1
            self.failures.append("verify%s failed after iteration %d (exit %d): %s" % (
                " of vault B" if in_b else "", self.totals["iterations"], done.returncode,
                (done.stdout + done.stderr).decode(errors="replace")[:600]))
            return None
        return report

    def iteration(self):
        self.totals["iterations"] += 1
        choice = self.rng.random()
        operation = (self.filing if choice < 0.45 else self.bulk if choice < 0.6 else self.rotation if choice < 0.72
                     else self.disposal if choice < 0.83 else self.transfer if choice < 0.92 else self.export)
        kind, args, record = operation()
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        process = subprocess.Popen([self.binary] + args, env=self.env_b if kind == "import" else self.env, cwd=self.scratch,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        delay = self.rng.uniform(0, 1.5) * self.durations[kind]
        start = time.monotonic()
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
        out, err = process.communicate()
        if process.returncode == -signal.SIGKILL:
            self.totals["killed"] += 1
            if record and record[0] == "bulk":
                self.finish_bulk(record[1], out, True, args)
            elif record and record[0] == "import":
                self.finish_import(record[1], True, args)
            elif record and record[0] == "export":
                self.finish_export(record[1], record[2], True)
        elif process.returncode == 0 and record and record[0] == "export":
            self.totals["finished"] += 1
            self.finish_export(record[1], record[2], False)
        elif process.returncode == 0 and record and record[0] == "bulk":
            self.totals["finished"] += 1
            self.finish_bulk(record[1], out, False, args)
        elif process.returncode == 0 and record and record[0] == "import":
            self.totals["finished"] += 1
            self.durations[kind] = max(self.durations[kind], time.monotonic() - start)
            self.finish_import(record[1], False, args)
        elif process.returncode == 0:
            self.totals["finished"] += 1
            # Rotations grow with the versions filed: keep the undisturbed time current.
            self.durations[kind] = max(self.durations[kind], time.monotonic() - start)
            if record:
                case, document, digest = record
                version = int(out.decode().split(" version ")[1].split(" ")[0])
                entry = (case, document, version, digest)
                self.acknowledged.append(entry)
                self.totals["acknowledged"] += 1
                self.read_back(entry)
        else:
            self.failures.append("%s exited %d without being killed: %s" % (kind, process.returncode, err.decode(errors="replace")[:300]))
        report = self.verify()
        if report is not None:
            self.totals["leftover_notes"] += len(report.get("notes", []))
        if self.acknowledged:
            self.read_back(self.rng.choice(self.acknowledged))
        if self.totals["iterations"] % 10 == 0:
            self.totals["repairs"] += 1
            self.verify(repair=True)
            after = self.verify()
            if after is not None and after.get("notes"):
                self.totals["verify_failures"] += 1
                self.failures.append("verify --repair left leftovers: %s" % after["notes"][:3])
            self.verify(repair=True, in_b=True)
            after = self.verify(in_b=True)
            if after is not None and after.get("notes"):
                self.totals["verify_failures"] += 1
                self.failures.append("verify --repair of vault B left leftovers: %s" % after["notes"][:3])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("casevault")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(1 << 32)
    scratch = tempfile.mkdtemp(prefix="casevault-torture-")
    os.chmod(scratch, 0o700)
    torture = Torture(os.path.abspath(options.casevault), scratch, random.Random(seed))
    started = time.monotonic()
    try:
        torture.set_up()
        torture.calibrate()
        print("crash torture: seed %d, %d iterations; undisturbed: %s" % (
            seed, options.iterations, ", ".join("%s %.2f s" % kv for kv in sorted(torture.durations.items()))), flush=True)
        for n in range(options.iterations):
            torture.iteration()
            if (n + 1) % 25 == 0:
                print("  after %d iterations: %s" % (n + 1, torture.totals), flush=True)
        # One last disposal run finishes any disposal a kill interrupted; then everything is read back.
        torture.run(["retention", "apply", "--approved-by", "halima,dora"] + torture.args_as("amina"))
        torture.verify()
        for entry in torture.acknowledged:
            torture.read_back(entry)
        for entry in torture.imports:
            torture.read_back(entry, in_b=True)
        torture.verify(in_b=True)
    finally:
        if options.keep:
            print("kept %s" % scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    t = torture.totals
    print("crash torture totals: iterations %d, kills %d, finished %d, acknowledged filings %d, lost filings %d, "
          "verify failures %d, leftover notes seen %d, repairs %d, reads %d, killed batches resumed %d "
          "(rows already filed %d, filed twice %d), imported documents %d (killed imports run again %d), packages opened %d, "
          "packages a killed export left unsigned and refused %d, package opens killed %d (%d while extracting) (%s); %.0f s" % (
              t["iterations"], t["killed"], t["finished"], t["acknowledged"], t["lost"], t["verify_failures"],
              t["leftover_notes"], t["repairs"], t["reads"], t["batches_resumed"], t["rows_already_filed"], t["duplicates"],
              t["imports_acknowledged"], t["imports_resumed"], t["packages_opened"], t["packages_refused"], t["opens_killed"], t["opens_killed_extracting"],
              ", ".join("%s %d" % kv for kv in sorted(torture.by_kind.items())),
              time.monotonic() - started))
    for failure in torture.failures[:20]:
        print("  " + failure)
    sys.exit(0 if t["lost"] == 0 and t["verify_failures"] == 0 and t["duplicates"] == 0 and not torture.failures else 1)


if __name__ == "__main__":
    main()
