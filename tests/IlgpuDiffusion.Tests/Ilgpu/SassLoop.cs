using System.Text.RegularExpressions;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The loop of a kernel's machine code that holds its HMMAs (or Hopper's HGMMAs, counted as they are), read from
/// cuobjdump's listing (each instruction printed as <c>/*address*/ OPCODE operands ;</c>): its instructions, HMMAs and LDSMs
/// in the listing's order, from a backward branch's target to the branch; and the shortest pass through it that issues
/// products and stages a tile (<see cref="FastPath"/>), following each forward branch inside it or falling through, around
/// the loops nested in it where a way around them exists.
/// </summary>
internal sealed record SassLoop(int Instructions, IReadOnlyList<string> FastPath, int Mmas, int MatrixLoads)
{
    // LDGSTS (cp.async) copies global to shared memory and LDGDEPBAR / DEPBAR track such copies: no register written.
    private static readonly string[] WritesNoRegister =
        ["ST", "RED", "BAR", "BRA", "BSSY", "BSYNC", "EXIT", "NOP", "WARPSYNC", "LDGSTS", "LDGDEPBAR", "DEPBAR"];

    /// <summary>The loop of <paramref name="sass"/> with the most HMMAs.</summary>
    public static SassLoop Hottest(string sass)
    {
        var code = Regex.Matches(sass, @"/\*([0-9a-f]{4,})\*/\s+([^;]*);")
            .Select(m => (Address: Convert.ToInt64(m.Groups[1].Value, 16), Text: m.Groups[2].Value.Trim()))
            .ToList();
        var best = new SassLoop(0, [], 0, 0);
        for (int end = 0; end < code.Count; end++)
        {
            long? address = BranchTarget(code[end].Text);
            if (address is null) continue;
            int start = code.FindIndex(c => c.Address == address);
            if (start < 0 || start > end) continue;
            var loop = code.Skip(start).Take(end - start + 1).ToList();
            int mmas = loop.Count(c => IsMma(c.Text));
            int matrixLoads = loop.Count(c => c.Text.Contains("LDSM", StringComparison.Ordinal));
            if (mmas > best.Mmas)
                best = new SassLoop(loop.Count, ShortestPath(code, start, end).Select(i => code[i].Text).ToList(), mmas, matrixLoads);
        }
        return best;
    }

    /// <summary>
    /// Where the <see cref="FastPath"/> waits for global memory: the places (indices into it) of the instructions that read a
    /// register a global load (LDG) before them on the path wrote, counting a wait once for all the loads then in flight (a
    /// GPU issues in order, so the warp stalls there until that load lands; the loads issued with it land about as soon); and
    /// the place of the path's first HMMA (−1 if none).
    /// </summary>
    public (IReadOnlyList<int> Waits, int FirstMma) GlobalLoadWaits()
    {
        var inFlight = new List<(int First, int Count)>(); // registers that loads will write
        var waits = new List<int>();
        int firstMma = -1;
        for (int i = 0; i < FastPath.Count; i++)
        {
            string text = Regex.Replace(FastPath[i], @"^@!?U?P\w+\s+", ""); // without its guard predicate, which is no operand
            string opcode = text.Split(' ')[0];
            var operands = text[opcode.Length..].Split(',').Select(o => o.Trim()).ToList();
            bool writes = !WritesNoRegister.Any(o => opcode.StartsWith(o, StringComparison.Ordinal));
            if (IsMma(opcode) && firstMma < 0) firstMma = i;
            // An HMMA reads its accumulator, the register it writes.
            var read = (writes && !IsMma(opcode) ? operands.Skip(1) : operands).SelectMany(Registers).ToList();
            if (read.Any(r => inFlight.Any(l => r >= l.First && r < l.First + l.Count)))
            {
                waits.Add(i);
                inFlight.Clear();
            }
            if (opcode.StartsWith("LDG", StringComparison.Ordinal) && writes)
                inFlight.Add((Registers(operands[0]).First(), opcode.Contains(".128") ? 4 : opcode.Contains(".64") ? 2 : 1));
            else if (writes && operands.Count > 0)
                foreach (int written in Registers(operands[0]).Take(1)) // overwritten: nothing to wait for
                    inFlight.RemoveAll(l => written >= l.First && written < l.First + l.Count);
        }
        return (waits, firstMma);
    }

    /// <summary>The general registers an operand names (R12, or the pair R12.64 as an address names from R12 on).</summary>
    private static IEnumerable<int> Registers(string operand) =>
        Regex.Matches(operand, @"\bR(\d+)\b").Select(m => int.Parse(m.Groups[1].Value));

    /// <summary>
    /// The instructions (indices into <paramref name="code"/>) on the shortest way from code[start] to code[end], both
    /// included, within them, through none of the loops nested between them if a way around them exists, else counting each
    /// nested loop's body once. A nested loop runs its body many times (the attention kernels' element-by-element staging of
    /// a tile: a row or a pair of rows a pass), so counted once it would make the way through it look shorter than the
    /// straight-line 16-byte staging a whole tile takes.
    /// </summary>
    private static List<int> ShortestPath(List<(long Address, string Text)> code, int start, int end)
    {
        var nested = new bool[end + 1];
        for (int i = start; i < end; i++)
            if (BranchTarget(code[i].Text) is long target && code.FindIndex(c => c.Address == target) is int to && to > start && to <= i)
                for (int j = to; j <= i; j++) nested[j] = true;
        return ShortestPath(code, start, end, nested) ?? ShortestPath(code, start, end, new bool[end + 1]) ?? [];
    }

    /// <summary>
    /// The shortest way of <see cref="ShortestPath(List{ValueTuple{long, string}}, int, int)"/> that issues at least one
    /// HMMA (a pass that does a tile's products, not one that a warp with no rows to attend takes around them) and one
    /// shared store (a pass that stages a tile, not one around a branch that never skips the staging) and avoids the
    /// instructions marked <paramref name="avoided"/>; null where there is none.
    /// </summary>
    private static List<int>? ShortestPath(List<(long Address, string Text)> code, int start, int end, bool[] avoided)
    {
        // way[m][i]: the fewest instructions up to and with code[i], by ways whose state m has bit 1 where they have issued
        // an HMMA and bit 2 a shared store, and the state they came from
        var way = Enumerable.Range(0, Done + 1).Select(_ => new (int Length, int From, int FromState)[end + 1]).ToArray();
        foreach (var states in way) Array.Fill(states, (int.MaxValue, -1, -1));
        way[State(0, code[start].Text)][start] = (1, -1, -1);
        for (int i = start; i < end; i++)
            for (int m = 0; m <= Done; m++)
            {
                if (way[m][i].Length == int.MaxValue || avoided[i]) continue;
                string text = code[i].Text;
                if (BranchTarget(text) is long target)
                {
                    int to = code.FindIndex(c => c.Address == target);
                    if (to > i && to <= end) Reach(way, m, i, to, code[to].Text);
                    if (Unconditional(text)) continue; // no fall-through
                }
                Reach(way, m, i, i + 1, code[i + 1].Text);
            }
        if (way[Done][end].Length == int.MaxValue) return null;
        var path = new List<int>();
        for (var (at, state) = (end, Done); at >= 0; (at, state) = (way[state][at].From, way[state][at].FromState)) path.Add(at);
        path.Reverse();
        return path;
    }

    /// <summary>The state of a way that has both issued an HMMA and stored to shared memory.</summary>
    private const int Done = 3;

    /// <summary>The state of a way in <paramref name="state"/> once it has issued <paramref name="instruction"/>.</summary>
    private static int State(int state, string instruction) =>
        state | (IsMma(instruction) ? 1 : 0) | (instruction.Contains("STS", StringComparison.Ordinal) ? 2 : 0);

    /// <summary>Records the way from state (<paramref name="state"/>, <paramref name="from"/>) to code[<paramref name="to"/>].</summary>
    private static void Reach((int Length, int From, int FromState)[][] way, int state, int from, int to, string text)
    {
        int next = State(state, text), length = way[state][from].Length + 1;
        if (length < way[next][to].Length) way[next][to] = (length, from, state);
    }

    private static bool IsMma(string instruction) =>
        instruction.Contains("HMMA", StringComparison.Ordinal) || instruction.Contains("HGMMA", StringComparison.Ordinal);

    /// <summary>
    /// Whether a branch always jumps: no guard predicate (@P0 BRA) and no predicate operand (BRA P0, which jumps where P0
    /// holds, as in @!P1 BRA P0, the branch ptxas makes of two conditions).
    /// </summary>
    private static bool Unconditional(string branch) => Regex.IsMatch(branch, @"^BRA\s+(?:`\(\.L_x_\d+\)\s*)?0x");

    /// <summary>The address a branch instruction jumps to, or null for other instructions.</summary>
    private static long? BranchTarget(string instruction)
    {
        var target = Regex.Match(instruction, @"BRA\s+(?:!?U?P\w+\s*,\s*)?(?:`\(\.L_x_\d+\)\s*)?0x([0-9a-f]+)");
        return instruction.Contains("BRA", StringComparison.Ordinal) && target.Success ? Convert.ToInt64(target.Groups[1].Value, 16) : null;
    }
}
