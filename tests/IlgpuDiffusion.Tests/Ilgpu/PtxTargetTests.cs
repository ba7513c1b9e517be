using IlgpuDiffusion.Ilgpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// <see cref="PtxTarget.Hopper"/>: a module's target becomes sm_90a whatever ILGPU chose, its ISA at least 8.0 (the first
/// with warpgroup products), the rest of the module untouched; a module without the lines is refused.
/// </summary>
public sealed class PtxTargetTests
{
    private const string Body = "\n.address_size 64\n\n.visible .entry Kernel_K()\n{\n\tret;\n}\n";

    [Theory]
    [InlineData(".version 7.8\n.target sm_80", ".version 8.0\n.target sm_90a")]
    [InlineData(".version 8.3\n.target sm_90", ".version 8.3\n.target sm_90a")]
    [InlineData(".version 7.8\n.target sm_80, debug", ".version 8.0\n.target sm_90a, debug")]
    [InlineData(".version 8.0\n.target sm_90a", ".version 8.0\n.target sm_90a")]
    public void A_module_is_retargeted_to_sm_90a(string header, string expected) =>
        Assert.Equal("//\n" + expected + Body, PtxTarget.Hopper("//\n" + header + Body));

    [Theory]
    [InlineData(".target sm_80")]
    [InlineData(".version 7.8")]
    public void A_module_without_its_version_or_target_is_refused(string header) =>
        Assert.Throws<InvalidOperationException>(() => PtxTarget.Hopper(header + Body));
}
