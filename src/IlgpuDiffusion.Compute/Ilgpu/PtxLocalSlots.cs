using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Turns the local-memory slots of ILGPU's inline-PTX operands into registers in a PTX module. ILGPU 1.5.3 passes every
/// operand given to <c>CudaAsm.EmitRef</c> (and <c>Emit</c>'s out values) through a slot of its own: an array of 4 or 8
/// bytes declared <c>.local .align A .b8 __local_depotN[S];</c>, whose address one <c>mov.b64 %rdX, __local_depotN;</c> takes
/// at the kernel's start, written by <c>st.local</c> before the instruction and read by <c>ld.local</c> after it. ptxas
/// folds such slots into registers, except in a kernel that has <c>cp.async</c>: there CUDA 11.8's and 12.4's ptxas keep a
/// stack frame, with a local store and load around every mma (TensorCoreGemmKernels' doc). Here each slot becomes a
/// register of its size: its declaration <c>.reg .bW %lslotN;</c>, each store a <c>mov.bW %lslotN, value;</c>, each load a
/// <c>mov.bW d, %lslotN;</c>. A slot is only ever stored and loaded whole through its one address register, so the module
/// computes what it did; anything else that touches a slot or its address is refused, not guessed at.
/// </summary>
internal static partial class PtxLocalSlots
{
    /// <summary>The module with its slots in registers (the same text where it has none).</summary>
    /// <exception cref="InvalidOperationException">A slot of another size than 2, 4 or 8 bytes, or used otherwise than by
    /// whole stores and loads through its address register.</exception>
    public static string ToRegisters(string ptx)
    {
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal); // slot number → bytes
        foreach (Match m in Declaration().Matches(ptx))
        {
            int bytes = int.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture);
            if (bytes is not (2 or 4 or 8))
                throw new InvalidOperationException($"A local slot of {bytes} bytes has no register to become: {m.Value.Trim()}");
            sizes.Add(m.Groups["slot"].Value, bytes);
        }
        if (sizes.Count == 0) return ptx;
        var slotOf = new Dictionary<string, string>(StringComparer.Ordinal); // address register → slot number
        foreach (Match m in AddressOf().Matches(ptx))
            if (!slotOf.TryAdd(m.Groups["register"].Value, m.Groups["slot"].Value) || !sizes.ContainsKey(m.Groups["slot"].Value))
                throw new InvalidOperationException($"A slot's address register is taken twice or names no slot: {m.Value.Trim()}");

        var text = new StringBuilder(ptx.Length);
        foreach (string line in ptx.Split('\n'))
            text.Append(Rewritten(line, sizes, slotOf)).Append('\n');
        text.Length--; // the split's last piece had no newline after it
        return text.ToString();
    }

    private static string Rewritten(string line, Dictionary<string, int> sizes, Dictionary<string, string> slotOf)
    {
        if (Declaration().Match(line) is { Success: true } declared)
        {
            string slot = declared.Groups["slot"].Value;
            return $"{declared.Groups["indent"].Value}.reg .b{8 * sizes[slot]} %lslot{slot};";
        }
        if (AddressOf().IsMatch(line)) return "";
        if (Store().Match(line) is { Success: true } store)
            return Move(store, sizes, slotOf, store.Groups["address"].Value, slot =>
                $"%lslot{slot}, {Immediate(store.Groups["value"].Value.Trim())}");
        if (Load().Match(line) is { Success: true } load)
            return Move(load, sizes, slotOf, load.Groups["address"].Value, slot =>
                $"{load.Groups["destination"].Value}, %lslot{slot}");
        if (line.Contains(".local", StringComparison.Ordinal) || line.Contains("__local_depot", StringComparison.Ordinal))
            throw new InvalidOperationException($"An access to local memory the rewrite does not know: {line.Trim()}");
        foreach (Match register in AddressRegister().Matches(line))
            if (slotOf.ContainsKey(register.Value))
                throw new InvalidOperationException($"A slot's address used otherwise than by a store or load: {line.Trim()}");
        return line;
    }

    /// <summary>A store or load of a slot as a move of <paramref name="operands"/>, its width checked against the slot's.</summary>
    private static string Move(Match access, Dictionary<string, int> sizes, Dictionary<string, string> slotOf, string address,
        Func<string, string> operands)
    {
        if (!slotOf.TryGetValue(address, out string? slot))
            throw new InvalidOperationException($"A local access through a register that holds no slot: {access.Value.Trim()}");
        int width = int.Parse(access.Groups["width"].Value, CultureInfo.InvariantCulture);
        if (width != 8 * sizes[slot])
            throw new InvalidOperationException($"A local access of {width} bits to a slot of {sizes[slot]} bytes: {access.Value.Trim()}");
        return $"{access.Groups["indent"].Value}{access.Groups["guard"].Value}mov.b{width}\t{operands(slot)};";
    }

    /// <summary>A stored value as a bit-typed move takes it: PTX's float literals (0f…, 0d…) become the same bits in hex.</summary>
    private static string Immediate(string value) =>
        value.StartsWith("0f", StringComparison.OrdinalIgnoreCase) || value.StartsWith("0d", StringComparison.OrdinalIgnoreCase)
            ? "0x" + value[2..]
            : value;

    [GeneratedRegex(@"^(?<indent>\s*)\.local\s+\.align\s+\d+\s+\.b8\s+__local_depot(?<slot>\d+)\[(?<bytes>\d+)\];\s*$",
        RegexOptions.Multiline)]
    private static partial Regex Declaration();

    [GeneratedRegex(@"^\s*mov\.b64\s+(?<register>%rd\d+),\s*__local_depot(?<slot>\d+);\s*$", RegexOptions.Multiline)]
    private static partial Regex AddressOf();

    [GeneratedRegex(
        @"^(?<indent>\s*)(?<guard>@!?%p\d+\s+)?st\.local\.[bsuf](?<width>\d+)\s+\[(?<address>%rd\d+)\],\s*(?<value>[^;]+);\s*$")]
    private static partial Regex Store();

    [GeneratedRegex(
        @"^(?<indent>\s*)(?<guard>@!?%p\d+\s+)?ld\.local\.[bsuf](?<width>\d+)\s+(?<destination>%\w+),\s*\[(?<address>%rd\d+)\];\s*$")]
    private static partial Regex Load();

    [GeneratedRegex(@"%rd\d+(?!\d)")]
    private static partial Regex AddressRegister();
}
