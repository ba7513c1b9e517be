using System.Globalization;
using System.Text.RegularExpressions;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Retargets a PTX module that ILGPU wrote. ILGPU 1.5.3 targets the lowest architecture with the device's capabilities
/// (<c>.target sm_80</c> on an H100 or H200) and knows no architecture-specific target, so a kernel with Hopper's warpgroup
/// instructions (<see cref="Kernels.Wgmma"/>), which assemble only for <c>sm_90a</c> at PTX ISA 8.0 or later, needs its
/// module's <c>.target</c> and <c>.version</c> lines rewritten; the rest of the module is PTX that any later ISA reads.
/// Registers that a kernel's inline PTX declares for itself (<c>.reg .f32 name&lt;N&gt;;</c>, names without ILGPU's
/// <c>%</c>: the warpgroup accumulators) move to the top of the entry's body: ILGPU writes the blocks of a kernel in an
/// order of its own, which can put the block that declares them after blocks that use them, and PTX wants a register
/// declared above its uses.
/// </summary>
internal static partial class PtxTarget
{
    /// <summary>
    /// The module targeting <c>sm_90a</c>, at PTX ISA 8.0 where it declared an earlier one, its inline PTX's own registers
    /// declared at the top of the entry's body.
    /// </summary>
    /// <exception cref="InvalidOperationException">The module has no <c>.version</c> or <c>.target</c> line, or declares
    /// registers of its own without an entry.</exception>
    public static string Hopper(string ptx)
    {
        ptx = DeclaredFirst(ptx);
        var version = Version().Match(ptx);
        var target = Target().Match(ptx);
        if (!version.Success || !target.Success)
            throw new InvalidOperationException("A PTX module without a .version or .target line cannot be retargeted.");
        int major = int.Parse(version.Groups["major"].Value, CultureInfo.InvariantCulture);
        string retargeted = Target().Replace(ptx, ".target sm_90a${rest}", 1);
        return major >= 8 ? retargeted : Version().Replace(retargeted, ".version 8.0", 1);
    }

    /// <summary>The module with the inline PTX's own register declarations moved to the top of the entry's body.</summary>
    private static string DeclaredFirst(string ptx)
    {
        var declarations = OwnRegisters().Matches(ptx);
        if (declarations.Count == 0) return ptx;
        string hoisted = string.Concat(declarations.Select(d => "\t" + d.Value.Trim() + "\n"));
        string rest = OwnRegisters().Replace(ptx, "");
        var body = EntryBody().Match(rest);
        if (!body.Success)
            throw new InvalidOperationException("A PTX module that declares registers of its own has no entry to declare them in.");
        int at = body.Index + body.Length;
        return rest[..at] + hoisted + rest[at..];
    }

    [GeneratedRegex(@"^[ \t]*\.reg\s+\.\w+\s+[A-Za-z_]\w*<\d+>;[ \t]*\n", RegexOptions.Multiline)]
    private static partial Regex OwnRegisters();

    [GeneratedRegex(@"^\.visible\s+\.entry\s[^{]*\{[ \t]*\n", RegexOptions.Multiline)]
    private static partial Regex EntryBody();

    [GeneratedRegex(@"^\.version\s+(?<major>\d+)\.(?<minor>\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex Version();

    [GeneratedRegex(@"^\.target\s+sm_\d+[a-z]?(?<rest>[^\n]*?)\s*$", RegexOptions.Multiline)]
    private static partial Regex Target();
}
