"""The Lambda zip: handler cold import time against bare boto3, size against lambda-uploader's.

    python3 dev.py bench package [--runs 5] [--wheelhouse .wheelhouse]

(a) `python -X importtime` of `import offhours.lambda_handler` from the unpacked zip, against
    `import boto3` — each in a fresh `python -I -S` whose sys.path is the unpacked zip and a
    stand-in for the runtime's /var/runtime (boto3 and its dependencies, symlinked from this
    venv). The handler twice: as shipped (no bytecode in the zip, and /var/task is read-only,
    so every cold start compiles) and with bytecode already compiled; boto3 with the bytecode
    pip compiled at install. Median of N runs of the top-level import's cumulative µs.
(b) the zip's size against what lambda-uploader bundles for the same code: it creates a
    virtualenv, pip-installs the requirements into it (bytecode compiled, as pip does by
    default), copies the whole site-packages (pip and setuptools included) and then the
    function's directory into a work directory, and zips that with ZIP_DEFLATED. Emulated
    here with a fresh venv (pip + setuptools from ensurepip) and offhours installed
    non-editable from a wheel, with the same wheels as our zip where the wheelhouse has them
    (the rest from the index: it needs network access).

Both zips are for this machine's Python (so the handler can be imported here) and x86_64.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

from offhours.deploy.package import PackageResult, build_package

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = f"python3.{sys.version_info.minor}"
CONFIG = b'[[sources]]\ntype = "ravello"\nusername = "env:RAVELLO_USER"\n'
# What the Lambda runtime has on its path besides the standard library: boto3 and its deps.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(  # noqa: S603 - our own tools, fixed arguments
        [str(c) for c in cmd], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode:
        sys.exit(f"{' '.join(str(c) for c in cmd)} failed:\n{proc.stderr[-3000:]}")
    return proc


# ------------------------------------------------------------------------ (a) import time


def import_us(module: str, path: list[Path]) -> int:
    """Cumulative µs of `import module`'s top-level entry in one fresh interpreter.

    -B: nothing is written, so a directory without bytecode compiles at every run, as
    /var/task (read-only) does at every cold start.
    """
    flags = ["-I", "-S", "-B", "-X", "importtime"]
    code = f"import sys; sys.path[:0] = {[str(p) for p in path]!r}; import {module}"
    stderr = run(sys.executable, *flags, "-c", code).stderr
    package = module.split(".")[0]
    total = 0
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if name.startswith("  "):
            continue  # nested: counted in its parent's cumulative time
        name = name.strip()
        if name == package or name.startswith(package + "."):
            total += int(cumulative)
    if not total:
        sys.exit(f"no import time found for {module}:\n{stderr[-2000:]}")
    return total


def median_us(module: str, path: list[Path], runs: int) -> int:
    return int(statistics.median(import_us(module, path) for _ in range(runs)))


def runtime_stand_in(dest: Path) -> Path:
    import boto3

    packages = Path(boto3.__file__).parents[1]
    dest.mkdir()
    for name in RUNTIME_PROVIDED:
        (dest / name).symlink_to(packages / name)
    return dest


# -------------------------------------------------------------- (b) lambda-uploader's zip


def lambda_uploader_zip(work: Path, wheels: Path | None) -> Path:
    # The wheelhouse holds only what our lock pins (and the build back-end): lambda-uploader
    # installs everything, boto3 and the CLI stack too, so it also reads the index.
    index = ["--find-links", str(wheels)] if wheels else []
    env = dict(os.environ)
    wheel_dir = work / "wheel"
    source = work / "project"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".wheelhouse", "build", "dist", "*.egg-info", "__pycache__"
        ),
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "wheel", "--no-deps", "--wheel-dir", wheel_dir, *index, source, env=env)
    # lambda-uploader: `virtualenv -p python DIR`, then DIR/bin/pip install <requirements>.
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    venv_pip = [env_dir / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*venv_pip, "install", *index, *wheel_dir.glob("*.whl"), env=env)
    # Its package(): site-packages (lib64 too unless a symlink), then the function directory.
    package = work / "lambda_package"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    shutil.copytree(env_dir / "lib" / version / "site-packages", package)
    lib64 = env_dir / "lib64" / version / "site-packages"
    if lib64.is_dir() and not (env_dir / "lib64").is_symlink():
        shutil.copytree(lib64, package, dirs_exist_ok=True)
    (package / "offhours.toml").write_bytes(CONFIG)
    out = work / "lambda_function.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, _, files in os.walk(package):
            for name in files:
                path = Path(root) / name
                archive.write(path, path.relative_to(package))
    return out


def describe(path: Path) -> tuple[int, int, int]:
    """Zip size, file count, unzipped bytes."""
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
    return path.stat().st_size, len(infos), sum(i.file_size for i in infos)


def top_dirs(path: Path, names: tuple[str, ...]) -> str:
    with zipfile.ZipFile(path) as archive:
        top = {n.split("/")[0] for n in archive.namelist()}
    return ", ".join(n for n in names if n in top) or "none"


# --------------------------------------------------------------------------------- main


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="dev.py bench package", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wheelhouse", type=Path, default=ROOT / ".wheelhouse")
    args = parser.parse_args(argv)
    wheels = args.wheelhouse if args.wheelhouse.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="offhours-bench-") as tmp:
        work = Path(tmp)
        ours: PackageResult = build_package(
            work / "offhours.zip",
            runtime=RUNTIME,
            architecture="x86_64",
            find_links=[wheels] if wheels else [],
            no_index=wheels is not None,
            project_root=ROOT,
            extra_files={"offhours.toml": CONFIG},
        )
        unpacked = work / "unpacked"
        with zipfile.ZipFile(ours.path) as archive:
            archive.extractall(unpacked)
        compiled = work / "compiled"
        shutil.copytree(unpacked, compiled)
        compileall.compile_dir(compiled, quiet=2)
        runtime = runtime_stand_in(work / "runtime")

        handler_cold = median_us("offhours.lambda_handler", [unpacked, runtime], args.runs)
        handler_pyc = median_us("offhours.lambda_handler", [compiled, runtime], args.runs)
        boto3_us = median_us("boto3", [runtime], args.runs)
        uploader = lambda_uploader_zip(work, wheels)

        print(f"## import time, median of {args.runs} runs ({RUNTIME}, x86_64)\n")
        print("| import | µs | vs `import boto3` |")
        print("|---|---:|---:|")
        for label, value in (
            ("`offhours.lambda_handler`, zip as shipped (compiled at import)", handler_cold),
            ("`offhours.lambda_handler`, bytecode already compiled", handler_pyc),
            ("`boto3` (runtime stand-in, bytecode compiled)", boto3_us),
        ):
            print(f"| {label} | {value:,} | {value / boto3_us:.2f}× |")
        ours_size, ours_files, ours_unzipped = describe(ours.path)
        up_size, up_files, up_unzipped = describe(uploader)
        print(f"\n## zip size ({RUNTIME}, x86_64)\n")
        print("| zip | size (bytes) | vs offhours | files | unzipped (bytes) |")
        print("|---|---:|---:|---:|---:|")
        print(f"| offhours | {ours_size:,} | 1.00× | {ours_files:,} | {ours_unzipped:,} |")
        print(
            f"| lambda-uploader | {up_size:,} | {up_size / ours_size:.2f}× | {up_files:,} "
            f"| {up_unzipped:,} |"
        )
        extra = ("boto3", "botocore", "pip", "setuptools", "typer", "rich", "pygments")
        print(f"\nin lambda-uploader's zip only: {top_dirs(uploader, extra)}")
        print(f"offhours zip sha256 {ours.sha256}; bundles: {', '.join(ours.distributions)}")


if __name__ == "__main__":
    main(sys.argv[1:])
