"""The README's one-line bucket() in Go, Java, TypeScript and shell, run on the golden vectors.

Each line is taken from the README as written (between its ``<!-- bucket:LANG -->``
marker and the end of the code block).  Shell always runs; the others run
where their toolchain is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_client import VECTORS


def readme_line(lang: str) -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- bucket:{lang} -->\n```\w+\n(.*?)\n```", readme, re.S)
    assert found, f"README has no bucket line for {lang}"
    return found.group(1)


def vectors_file(tmp_path: Path) -> Path:
    path = tmp_path / "ids.txt"
    # One id per line, UTF-8; the empty id is an empty line.
    path.write_text("".join(rep + "\n" for rep, _ in VECTORS), encoding="utf-8")
    return path


def expected() -> list[int]:
    return [b for _, b in VECTORS]


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed")
    return found


def test_shell(tmp_path: Path) -> None:
    line = readme_line("shell")
    got = [
        int(subprocess.run(["bash", "-c", f'ID="$1"; {line}', "bash", rep], capture_output=True, text=True, check=True).stdout)
        for rep, _ in VECTORS
    ]
    assert got == expected()


def test_typescript_with_node(tmp_path: Path) -> None:
    node = need("node")
    line = readme_line("typescript")
    javascript = line.replace("(id: string): number", "(id)")  # the only type annotations on the line
    assert ": string" not in javascript and ": number" not in javascript
    script = tmp_path / "bucket.mjs"
    script.write_text(
        'import { createHash } from "node:crypto";\nimport { readFileSync } from "node:fs";\n'
        f"{javascript}\n"
        'const ids = readFileSync(process.argv[2], "utf8").split("\\n").slice(0, -1);\n'
        "console.log(JSON.stringify(ids.map(bucket)));\n",
        encoding="utf-8",
    )
    out = subprocess.run([node, str(script), str(vectors_file(tmp_path))], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == expected()


def test_java(tmp_path: Path) -> None:
    java = need("java")
    line = readme_line("java")
    source = tmp_path / "Bucket.java"
    source.write_text(
        "import java.nio.charset.StandardCharsets;\nimport java.nio.file.*;\n"
        "public class Bucket {\n"
        f"  {line}\n"
        "  public static void main(String[] args) throws Exception {\n"
        "    String text = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);\n"
        '    String[] ids = text.split("\\n", -1);\n'
        "    for (int i = 0; i < ids.length - 1; i++) System.out.println(bucket(ids[i]));\n"
        "  }\n}\n",
        encoding="utf-8",
    )
    out = subprocess.run([java, str(source), str(vectors_file(tmp_path))], capture_output=True, text=True, check=True, timeout=120).stdout
    assert [int(x) for x in out.split()] == expected()


def test_go(tmp_path: Path) -> None:
    go = need("go")
    line = readme_line("go")
    source = tmp_path / "bucket.go"
    source.write_text(
        'package main\n\nimport (\n\t"bufio"\n\t"crypto/sha256"\n\t"encoding/binary"\n\t"fmt"\n\t"os"\n)\n\n'
        f"{line}\n\n"
        "func main() {\n\tf, _ := os.Open(os.Args[1])\n\ts := bufio.NewScanner(f)\n"
        "\tfor s.Scan() {\n\t\tfmt.Println(bucket(s.Text()))\n\t}\n}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "GOCACHE": str(tmp_path / "gocache"),
        "GOPATH": str(tmp_path / "gopath"),
        "GOFLAGS": "-mod=mod",
        "GO111MODULE": "off",
    }
    out = subprocess.run(
        [go, "run", str(source), str(vectors_file(tmp_path))], capture_output=True, text=True, check=True, timeout=180, env=env
    ).stdout
    assert [int(x) for x in out.split()] == expected()
