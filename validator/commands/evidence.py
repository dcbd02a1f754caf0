"""``flaggate evidence``: the reconciliation job's keygen, record and verify."""

from __future__ import annotations

import argparse
import sys

from validator.commands import root as _root


def run(args: argparse.Namespace) -> int:
    from validator import reconciler
    from validator.inert import escape

    if args.evidence_command == "keygen":
        print(reconciler.keygen(args.out, args.id), end="")
        print(f"flaggate: private key written to {args.out} (mode 0600); keep it in the reconciler's secret store", file=sys.stderr)
        return 0
    root = _root(args)
    if args.evidence_command == "verify":
        lines, ok = reconciler.verify(root, args.paths, args.base)
        print("\n".join(lines))
        return 0 if ok else 1
    recorded = reconciler.record(
        root,
        args.flag,
        state=args.state,
        percentage=args.percentage,
        seq=args.seq,
        started=args.started,
        finished=args.finished,
        inputs=reconciler.parse_inputs(args.input),
        status=args.status,
        run_id=args.run_id,
    )
    if recorded.findings:
        for f in recorded.findings:
            print(f"{escape(f.file)}:{f.line}:{f.column}: {f.rule}: {escape(f.message)}")
        print("flaggate: evidence record refused: nothing written", file=sys.stderr)
        return 1
    run_path, sig_path = reconciler.write(root, recorded, args.key, args.key_id)
    print(f"wrote {escape(run_path.relative_to(root))} and {escape(sig_path.relative_to(root))}")
    return 0
