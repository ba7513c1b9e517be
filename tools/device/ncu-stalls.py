#!/usr/bin/env python3
"""Where a kernel's warps wait, from Nsight Compute's source page.

Reads the CSV that `ncu -i REPORT --page source --print-source sass --csv` prints (one block per profiled kernel: a
"Kernel Name" row, a header row, a row per SASS instruction) and prints, per kernel, as Markdown tables: the stall
reasons' shares of all warp-stall samples, and the instructions with the most samples, each with its two largest
reasons. Run on the GPU machine by tools/device/tensor-cores.sh's ncu phase, or here on its returned ncu-*-sass.log.

Usage: ncu-stalls.py CSV [TOP]
"""
import csv
import sys

SAMPLES = "Warp Stall Sampling (All"  # "(All Cycles)" in Nsight Compute 2022, "(All Samples)" in later ones


def kernels(rows):
    """(name, header, instruction rows) for each kernel block of the source page."""
    name, header, body = None, None, []
    for row in rows:
        if row and row[0] == "Kernel Name":
            if header is not None:
                yield name, header, body
            name, header, body = row[1] if len(row) > 1 else "?", None, []
        elif header is None and row and row[0] == "Address":
            header = row
        elif header is not None and len(row) >= len(header):
            body.append(row)
    if header is not None:
        yield name, header, body


def address(row):
    """The instruction's address, or None where the row has none."""
    try:
        return int(row[0], 16)
    except ValueError:
        return None


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def report(name, header, body, top):
    """The Markdown tables of one kernel."""
    columns = {title: i for i, title in enumerate(header)}
    total_at = next((i for title, i in columns.items() if title.startswith(SAMPLES)), None)
    if total_at is None:
        return [f"## {name}", "", "No warp-stall samples in this report (collect the SourceCounters section).", ""]
    reasons = [(title, i) for title, i in columns.items() if title.startswith("stall_") and "Not Issued" not in title]
    source, executed = columns.get("Source", 1), columns.get("Instructions Executed")
    total = sum(number(row[total_at]) for row in body) or 1.0
    lines = [f"## {name}", "", f"{len(body)} instructions, {total:.0f} warp-stall samples.", "",
             "| reason | share |", "|---|---:|"]
    sums = sorted(((sum(number(row[i]) for row in body), title) for title, i in reasons), reverse=True)
    lines += [f"| {title} | {value / total:.1%} |" for value, title in sums if value > 0][:10]
    lines += ["", "| offset | samples | share | executed | reasons | instruction |", "|---:|---:|---:|---:|---|---|"]
    first = min((a for a in map(address, body) if a is not None), default=0)
    hottest = sorted(body, key=lambda row: number(row[total_at]), reverse=True)[:top]
    for row in sorted(hottest, key=lambda row: address(row) or 0):
        samples = number(row[total_at])
        mine = sorted(((number(row[i]), title.removeprefix("stall_")) for title, i in reasons), reverse=True)[:2]
        why = ", ".join(f"{title} {value / samples:.0%}" for value, title in mine if samples > 0 and value >= samples / 200)
        at = address(row)
        offset = f"{at - first:#x}" if at is not None else row[0]
        count = f"{number(row[executed]):.0f}" if executed is not None else ""
        text = " ".join(row[source].split()).replace("|", "\\|")
        lines.append(f"| {offset} | {samples:.0f} | {samples / total:.1%} | {count} | {why} | `{text}` |")
    return lines + [""]


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    top = int(argv[2]) if len(argv) > 2 else 25
    with open(argv[1], newline="", encoding="utf-8", errors="replace") as file:
        blocks = list(kernels(csv.reader(file)))
    if not blocks:
        print(f"{argv[1]}: no source page of a kernel in it", file=sys.stderr)
        return 1
    for name, header, body in blocks:
        print("\n".join(report(name, header, body, top)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
