using IlgpuDiffusion.Models;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>Presets, parameter counts (docs/algorithms.md §1.4) and validation messages.</summary>
public sealed class DitConfigTests
{
    [Theory]
    [InlineData("Small", 169.63)]
    [InlineData("Medium", 424.48)]
    [InlineData("Large", 863.16)]
    public void Preset_parameter_counts_match_the_paper(string preset, double millions)
    {
        var config = preset switch { "Small" => DitConfig.Small, "Medium" => DitConfig.Medium, _ => DitConfig.Large };
        Assert.InRange(config.ParameterCount() / 1e6, millions - 0.01, millions + 0.01);
        Assert.Equal(config.ParameterCount(), DitParameters.Layout(config).Sum(e => e.Shape.Length));
    }

    [Fact]
    public void Qk_norm_adds_two_head_sized_weights_per_block()
    {
        var config = DitConfig.Tiny with { QkNorm = true };
        Assert.Equal(DitConfig.Tiny.ParameterCount() + 4 * 2 * 64, config.ParameterCount());
        Assert.Equal(config.ParameterCount(), DitParameters.Layout(config).Sum(e => e.Shape.Length));
        Assert.Contains(DitParameters.Layout(config), e => e.Name == "blocks.3.qk_norm.weight" && e.Shape.Length == 128);
        Assert.DoesNotContain(DitParameters.Layout(DitConfig.Tiny), e => e.Name.Contains("qk_norm", StringComparison.Ordinal));
    }

    [Fact]
    public void Small_is_the_released_mdlm_shape()
    {
        var small = DitConfig.Small;
        Assert.Equal((12, 768, 12, 128, 1024, 50258, 64, 3072, 50257), (small.Layers, small.Hidden, small.Heads, small.CondDim,
            small.Length, small.Vocab, small.HeadDim, small.MlpHidden, small.MaskIndex));
        Assert.Equal(0.1f, small.Dropout);
        Assert.False(small.TimeConditioning);
        Assert.False(small.QkNorm);
        Assert.Equal(169_627_218, small.ParameterCount());
        Assert.Same(DitConfig.Tiny, DitConfig.Tiny.Validate());
    }

    [Theory]
    [InlineData(2, 100, 3, 0.1f, "not divisible")]
    [InlineData(2, 12, 4, 0.1f, "odd")]
    [InlineData(0, 16, 2, 0.1f, "Layers")]
    [InlineData(2, 16, 2, 1f, "Dropout")]
    [InlineData(2, 16, 0, 0.1f, "Heads")]
    public void Invalid_configs_say_what_is_wrong(int layers, int hidden, int heads, float dropout, string message)
    {
        var config = new DitConfig { Layers = layers, Hidden = hidden, Heads = heads, Dropout = dropout };
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => config.Validate()).Message);
    }
}
