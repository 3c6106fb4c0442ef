"""The workflow on a real SLURM scheduler: profiles/slurm + snakemake-executor-plugin-slurm.

A one-node cluster (slurmctld, slurmd, munged) is started on localhost from Debian's slurm-wlm
and munge packages, installed with apt-get when missing, with its own slurm.conf, munge key,
socket, ports and spool folders in a temporary folder; nothing under /etc is written. The node has
the machine's cores and memory and one fake GPU (a gres.conf entry on /dev/null). The tiny demo
config then runs through `--executor slurm --profile profiles/slurm`, every job a SLURM job, and
a device=cuda submission of `train` checks that its GPU request reaches the scheduler.

Needs root (slurmd runs jobs as root) and apt-get unless slurm-wlm and munge are installed.
Skipped otherwise, and whenever XAICUT_SKIP_SLURM=1; XAICUT_REQUIRE_SLURM=1 (set by .ci/run) turns
those skips into failures. Every daemon is stopped by its PID at the end, also after a failure.
docs/cluster.md describes the setup and the measured wall time.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE
from test_workflow import profile_resources, write_config

PROFILE = REPO / "profiles" / "slurm"
LOCAL_PROFILE = REPO / "profiles" / "local"
SLURM_PROGRAMS = ("slurmctld", "slurmd", "munged", "sbatch", "srun", "squeue", "scancel",
                  "scontrol", "sinfo")
# The workflow runs on the tests' tiny config (.test/config/config.yaml, test_workflow's TINY) as it
# is: one classifier (plain), one thread per job (two jobs share the two-core node), one
# attribution shard per split.
# Every rule but `all` (a local rule) runs as a SLURM job.
CLUSTER_RULES = {"demo_data", "ingest", "augment", "train_member", "train", "attribute",
                 "threshold_study", "faithfulness", "fuse", "segment", "segment_scored", "otsu",
                 "train_unet", "unet", "evaluate", "score_segmentations", "export", "costs",
                 "report"}
GPU_RULES = {"train_member", "train", "attribute", "train_unet", "unet", "train_student", "student",
             "student_round", "otsu_student", "adapt_student"}
"""Rules that ask for a GPU with device: cuda."""
STAGES = ["gradcam", "shap", "fused", "graphcut", "graphcut_trimap_otsu", "graphcut_and", "otsu",
          "unet"]
RUN_TIMEOUT = 480        # seconds for the whole tiny workflow on SLURM (measured: docs/cluster.md)


def why_no_slurm() -> str | None:
    """Why this machine cannot run a local SLURM cluster, or None when it can."""
    if os.environ.get("XAICUT_SKIP_SLURM") == "1":
        return "XAICUT_SKIP_SLURM=1"
    if os.geteuid() != 0:
        return "needs root: slurmd runs the jobs as root and apt-get installs slurm-wlm"
    if not all(shutil.which(p) for p in SLURM_PROGRAMS) and not shutil.which("apt-get"):
        return "slurm-wlm and munge are not installed and apt-get is not available"
    return None


NO_SLURM = why_no_slurm()
needs_slurm = pytest.mark.skipif(
    NO_SLURM is not None and (os.environ.get("XAICUT_REQUIRE_SLURM") != "1"
                              or os.environ.get("XAICUT_SKIP_SLURM") == "1"),
    reason=f"local SLURM cluster unavailable: {NO_SLURM}")


def ensure_slurm_installed() -> None:
    """apt-get install slurm-wlm and munge unless their programs are already on PATH."""
    if all(shutil.which(p) for p in SLURM_PROGRAMS):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends",
               "-o", "DPkg::Lock::Timeout=300", "slurm-wlm", "munge"]
    proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:              # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300"], env=env,
                       capture_output=True, text=True, timeout=600)
        proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    missing = [p for p in SLURM_PROGRAMS if not shutil.which(p)]
    assert not missing, f"installed slurm-wlm and munge, still missing {missing}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def machine_memory_mb() -> int:
    """MemTotal in MB less 512 MB: slurmd drains a node configured with more than it has."""
    kb = int(re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())[1])
    return kb // 1024 - 512


class LocalSlurm:
    """slurmctld + slurmd + munged on localhost, everything under ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "etc" / "slurm.conf"
        self.logs = root / "log"
        self.cpus = os.cpu_count() or 1
        self.memory_mb = machine_memory_mb()
        self.procs: list[subprocess.Popen] = []
        # Jobs inherit this environment (sbatch --export=ALL). The shim directory comes first on
        # PATH: snakemake-executor-plugin-slurm-jobstep removes SLURM_CONF before the `srun` it
        # runs inside each job, and this cluster's config is found through SLURM_CONF only.
        self.env = {**os.environ, "SLURM_CONF": str(self.conf),
                    "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    def write_config(self) -> None:
        for d in ("etc", "state", "spool", "log", "munge", "bin"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        r = self.root
        ctld_port, slurmd_port = free_ports(2)
        self.conf.write_text(f"""\
ClusterName=xaicut
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
AuthInfo=socket={r}/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={self.logs}/slurmctld.log
SlurmdLogFile={self.logs}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# finished jobs stay visible to squeue (the plugin's status command here) and scontrol for 1 h
MinJobAge=3600
DefMemPerCPU=1000
NodeName=localhost CPUs={self.cpus} RealMemory={self.memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        # a fake GPU: slurmd only checks that the device file exists
        (r / "etc" / "gres.conf").write_text("NodeName=localhost Name=gpu File=/dev/null\n")
        srun = r / "bin" / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {shutil.which("srun")} "$@"\n')
        srun.chmod(0o755)

    def start_daemon(self, *cmd: str) -> subprocess.Popen:
        out = open(self.logs / f"{Path(cmd[0]).name}.out", "w")
        proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.procs.append(proc)
        return proc

    def cmd(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout)

    def wait_for(self, what: str, ready, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [p.args[0] for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready (exited: {dead}):\n{self.log_tails()}")
            time.sleep(0.5)

    def start(self) -> None:
        self.write_config()
        m = self.root / "munge"
        self.start_daemon("munged", "--foreground", "--force", f"--socket={m}/munge.socket",
                          f"--key-file={m}/munge.key", f"--pid-file={m}/munged.pid",
                          f"--seed-file={m}/munged.seed", f"--log-file={self.logs}/munged.log")
        self.wait_for("munged", (m / "munge.socket").exists)
        self.start_daemon("slurmctld", "-D", "-f", str(self.conf))
        self.wait_for("slurmctld", lambda: self.cmd("scontrol", "ping").returncode == 0)
        self.start_daemon("slurmd", "-D", "-N", "localhost", "-f", str(self.conf))
        self.wait_for("slurmd", lambda: self.cmd("sinfo", "-h", "-n", "localhost", "-o",
                                                 "%T").stdout.strip() == "idle")

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still knows (MinJobAge), as scontrol's key=value fields."""
        out = self.cmd("scontrol", "show", "job", "--details", "--oneliner").stdout
        return [dict(re.findall(r"(\S+?)=(\S*)", line)) for line in out.splitlines()
                if line.startswith("JobId=")]

    def log_tails(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-2000:]}"
                         for p in sorted(self.logs.glob("*")) if p.is_file())

    def job_pids(self) -> set[int]:
        """Processes this cluster started, found by SLURM_CONF=<this cluster's slurm.conf> in
        their environment (daemons, slurmstepd and the jobs inherit it; nothing else has it)."""
        mark = f"SLURM_CONF={self.conf}".encode()
        daemons = {p.pid for p in self.procs}
        pids = set()
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                environ = (proc / "environ").read_bytes().split(b"\0")
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            pid = int(proc.name)
            if mark in environ and pid not in daemons and ppid not in daemons:  # not slurmscriptd
                pids.add(pid)
        return pids

    def stop(self) -> None:
        """Cancel leftover jobs, stop slurmd, slurmctld and munged, kill what outlived them."""
        if any(p.args[0] == "slurmctld" and p.poll() is None for p in self.procs):
            self.cmd("scancel", "--user", getpass.getuser())
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.cmd(
                    "squeue", "-h", "-t", "PENDING,RUNNING,COMPLETING").stdout.strip():
                time.sleep(1)
        deadline = time.monotonic() + 30        # slurmstepd cleans up after the job has ended
        while time.monotonic() < deadline and self.job_pids():
            time.sleep(0.5)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=20)
        self.procs.clear()
        for pid in self.job_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def snakemake(*args: str, env: dict | None = None, timeout: float = 120,
              check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake from the repository in its own session, killed whole after ``timeout``."""
    proc = subprocess.Popen([*SNAKEMAKE, *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"snakemake {' '.join(args)} still running after {timeout} s:\n{out[-5000:]}")
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out)
    if check:
        assert proc.returncode == 0, out[-6000:]
    return result


def planned_resources(dry_run_output: str) -> dict[str, list[dict[str, str]]]:
    """Per rule, the `resources:` of each job a dry run lists."""
    plan: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"^rule (?=\w+:$)", dry_run_output, flags=re.M)[1:]:
        rule = block.split(":", 1)[0]
        line = re.search(r"^\s+resources: (.*)$", block, re.M)
        pairs = line[1].split(", ") if line else []
        plan.setdefault(rule, []).append(dict(p.split("=", 1) for p in pairs))
    return plan


def cluster_profile(cluster: LocalSlurm, folder: Path, logdir: Path) -> Path:
    """A second profile on top of profiles/slurm with what this local cluster needs.

    A later --profile replaces whole top-level keys, so default-resources is the repository's
    plus the partition, and set-resources the repository's with memory capped at the node's.
    """
    base = yaml.safe_load((PROFILE / "config.yaml").read_text())
    set_resources = {rule: {**res, "mem_mb": min(res["mem_mb"], cluster.memory_mb)}
                     for rule, res in base["set-resources"].items()}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({
        "default-resources": {**base["default-resources"], "slurm_partition": "debug"},
        "set-resources": set_resources,
        "jobs": 4,
        # No accounting database here: sacct fails and the plugin's default status command
        # (sacct, since the sacct program exists) would never see a job finish. squeue works
        # because MinJobAge (3600 s) >= 3 x the first status check delay below.
        "slurm-status-command": "squeue",
        "slurm-init-seconds-before-status-checks": 2,
        "slurm-logdir": str(logdir),
        "slurm-keep-successful-logs": True,
    }))
    return folder


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    if NO_SLURM:                          # not skipped: XAICUT_REQUIRE_SLURM=1
        pytest.fail(f"XAICUT_REQUIRE_SLURM=1, but no local SLURM cluster: {NO_SLURM}")
    ensure_slurm_installed()
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    """The tiny workflow through SLURM: (results, snakemake output, slurm log dir, profiles)."""
    tmp = tmp_path_factory.mktemp("slurm_workflow")
    config = write_config(tmp / "tiny.yaml", tmp / "results")
    local = cluster_profile(slurm_cluster, tmp / "cluster_profile", tmp / "slurm_logs")
    start = time.monotonic()
    out = snakemake("--configfile", str(config), "--profile", str(PROFILE),
                    "--profile", str(local), env=slurm_cluster.env, timeout=RUN_TIMEOUT).stdout
    print(f"tiny workflow on SLURM: {time.monotonic() - start:.0f} s")
    return {"config": config, "results": tmp / "results", "output": out,
            "slurm_logs": tmp / "slurm_logs", "profiles": ["--profile", str(PROFILE),
                                                           "--profile", str(local)]}


@pytest.mark.slow
@needs_slurm
def test_workflow_outputs_from_slurm_jobs(slurm_run):
    results = slurm_run["results"]
    summary = pd.read_csv(results / "runs" / "default" / "metrics" / "summary.csv")
    assert list(summary.stage) == STAGES
    manifest = pd.read_csv(results / "data" / "manifest.csv")
    assert (summary.n_images == int((manifest.split == "test").sum())).all()
    html = (results / "runs" / "default" / "report" / "report.html").read_text()
    assert "graphcut" in html and "data:image/png;base64" in html
    # nothing left to do for Snakemake: the SLURM jobs recorded complete outputs
    out = snakemake("--configfile", str(slurm_run["config"]), *slurm_run["profiles"],
                    "--dry-run", env=None).stdout
    assert "Nothing to be done" in out, out[-3000:]


@pytest.mark.slow
@needs_slurm
def test_every_job_ran_on_slurm_with_profile_resources(slurm_run, slurm_cluster):
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)",
                           slurm_run["output"])
    logs = sorted(slurm_run["slurm_logs"].rglob("*.log"))
    assert {p.relative_to(slurm_run["slurm_logs"]).parts[0] for p in logs} == {
        f"rule_{r}" for r in CLUSTER_RULES}
    assert {p.stem for p in logs} == set(submitted)
    jobs = {j["JobId"]: j for j in slurm_cluster.jobs()}
    assert set(submitted) <= set(jobs)
    for job_id in submitted:
        job = jobs[job_id]
        rule = job["Comment"].removeprefix("rule_").split("_wildcards_")[0]
        assert rule in CLUSTER_RULES
        assert job["JobState"] == "COMPLETED", job
        assert job["Partition"] == "debug"
        assert job["NumCPUs"] == "1"                      # cpus_per_task: threads (1 here)
        assert "TresPerJob" not in job and job.get("JOB_GRES", "(null)") == "(null)", job
        resources = profile_resources(rule)
        mem = f"{min(resources['mem_mb'], slurm_cluster.memory_mb)}M"
        hours, minutes = divmod(resources["runtime"], 60)
        limit = f"{hours:02d}:{minutes:02d}:00"
        assert (job["MinMemoryNode"], job["TimeLimit"]) == (mem, limit), (rule, job)


@pytest.mark.slow
@needs_slurm
def test_cuda_run_submits_gpu_jobs(slurm_run, slurm_cluster, tmp_path):
    """device: cuda adds gpu=1 to the GPU rules only, and SLURM allocates it the GPU."""
    cuda = write_config(tmp_path / "cuda.yaml", slurm_run["results"], device="cuda")
    plan = planned_resources(snakemake("--configfile", str(cuda), "--profile", str(PROFILE),
                                       "--dry-run").stdout)
    shards = len(list((slurm_run["results"] / "attribution").glob("*/*")))
    assert len(plan["train_member"]) == len(plan["train"]) == 1
    assert len(plan["attribute"]) == shards > 1
    for rule, jobs in plan.items():
        for res in jobs:
            assert res.get("gpu") == ("1" if rule in GPU_RULES else None), rule
    # The real submission. Without CUDA in this machine's torch, training fails inside the job, but
    # only after SLURM started it with the node's (fake) GPU: the scheduler side is what counts.
    before = {j["JobId"] for j in slurm_cluster.jobs()}
    run = snakemake("--configfile", str(cuda), *slurm_run["profiles"], "--until", "train_member",
                    "--verbose", env=slurm_cluster.env, timeout=180, check=False)
    sbatch = [line for line in run.stdout.splitlines() if line.startswith("sbatch call:")]
    assert len(sbatch) == 1, run.stdout[-4000:]
    assert "--comment rule_train_member_wildcards_plain_0" in sbatch[0], run.stdout[-4000:]
    assert "--gpus=1" in sbatch[0].split("--wrap=")[0]
    new = [j for j in slurm_cluster.jobs() if j["JobId"] not in before]
    comments = [j["Comment"] for j in new]
    assert comments == ["rule_train_member_wildcards_plain_0"], run.stdout[-4000:]
    train = new[0]
    assert train["TresPerJob"] == "gres:gpu:1" and train["JOB_GRES"] == "gpu:1", train
    import torch

    if torch.cuda.is_available():
        assert train["JobState"] == "COMPLETED" and run.returncode == 0, run.stdout[-4000:]
    else:
        assert train["JobState"] == "FAILED" and run.returncode != 0, run.stdout[-4000:]
        # the plugin files job logs by rule and wildcards:
        # rule_train_member/<variant>/<member>/<job id>.log
        log_path, = (slurm_run["slurm_logs"] / "rule_train_member").glob(f"**/{train['JobId']}.log")
        log = log_path.read_text()
        assert "Found no NVIDIA driver" in log or "not compiled with CUDA" in log, log[-3000:]


def test_the_slurm_profile_sizes_every_rule(tmp_path):
    """profiles/slurm sets runtime (minutes) and mem_mb for every rule of the workflow but the
    local rule all, with device cpu and cuda alike (docs/cluster.md: from measured figures)."""
    config = write_config(tmp_path / "tiny.yaml", tmp_path / "results")   # demo: demo_data too
    listing = snakemake("--configfile", str(config), "--list-rules").stdout
    rules = set(re.findall(r"^(\w+)$", listing, re.M))      # one name a line, after the notes
    set_resources = yaml.safe_load((PROFILE / "config.yaml").read_text())["set-resources"]
    assert {"segment", "attribute", "costs", "report", "demo_data", "student"} <= rules
    assert rules - {"all"} == set(set_resources)
    for rule, resources in set_resources.items():
        assert {"runtime", "mem_mb"} <= set(resources), rule
        assert resources["runtime"] >= 10 and resources["mem_mb"] >= 1000, rule


@pytest.mark.parametrize("profile", [PROFILE, LOCAL_PROFILE], ids=["slurm", "local"])
def test_profiles_request_a_gpu_only_for_cuda(profile, tmp_path):
    """Dry runs, no scheduler needed: the profiles parse and only device: cuda asks for GPUs."""
    for device in ("cpu", "cuda"):
        config = write_config(tmp_path / f"{device}.yaml", tmp_path / "results", device=device)
        plan = planned_resources(snakemake("--configfile", str(config), "--profile", str(profile),
                                           "--dry-run").stdout)
        assert "train_member" in plan and "train" in plan
        for rule, jobs in plan.items():
            gpu = "1" if device == "cuda" and rule in GPU_RULES else None
            assert all(res.get("gpu") == gpu for res in jobs), (profile.name, device, rule)
        if profile == PROFILE:
            for rule in ("train_member", "train", "augment"):
                resources = profile_resources(rule)
                assert plan[rule][0]["mem_mb"] == str(resources["mem_mb"]), rule
                assert plan[rule][0]["runtime"] == str(resources["runtime"]), rule
