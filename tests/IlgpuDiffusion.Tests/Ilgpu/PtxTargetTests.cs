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

    /// <summary>
    /// A register that the kernel's inline PTX declares for itself is declared at the top of the entry's body, wherever
    /// ILGPU wrote the block that declares it; ILGPU's own declarations and those inside an inline block stay where they are.
    /// </summary>
    [Fact]
    public void The_inline_PTX_s_own_registers_are_declared_before_their_uses()
    {
        const string module = "//\n.version 7.8\n.target sm_80\n.address_size 64\n\n.visible .entry Kernel_K(\n\t.param .u64 x\n)\n" +
            ".maxntid 256, 1, 1\n{\n\t.reg .f32 %f<4>;\n\tbra.uni L_1;\n\nL_2:\n\t{\n\t.reg .pred p;\n\tmov.b32 wacc0, %f1;\n\t}\n" +
            "\tret;\n\nL_1:\n\t.reg .f32 wacc<64>;\n\tmov.b32 wacc0, 0;\n\tbra.uni L_2;\n}\n";
        string expected = module.Replace("\t.reg .f32 wacc<64>;\n", "", StringComparison.Ordinal)
            .Replace("{\n\t.reg .f32 %f<4>;", "{\n\t.reg .f32 wacc<64>;\n\t.reg .f32 %f<4>;", StringComparison.Ordinal)
            .Replace(".version 7.8\n.target sm_80", ".version 8.0\n.target sm_90a", StringComparison.Ordinal);
        Assert.Equal(expected, PtxTarget.Hopper(module));
    }

    [Theory]
    [InlineData(".target sm_80")]
    [InlineData(".version 7.8")]
    public void A_module_without_its_version_or_target_is_refused(string header) =>
        Assert.Throws<InvalidOperationException>(() => PtxTarget.Hopper(header + Body));
}
