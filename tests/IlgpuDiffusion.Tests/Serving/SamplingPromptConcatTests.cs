using IlgpuDiffusion.Sampling;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>Several requests' prompts as the per-sequence fixed tokens of one sampler batch.</summary>
public sealed class SamplingPromptConcatTests
{
    [Fact]
    public void Each_prompt_fixes_the_rows_of_its_sequences_and_a_missing_prompt_fixes_none()
    {
        var infill = SamplingPrompt.Infill(new Dictionary<int, int> { [0] = 5, [3] = 6 });
        SamplingPrompt batch = SamplingPrompt.Concat([(SamplingPrompt.Prefix([1, 2]), 1), (null, 1), (infill, 2)]);

        var fixedIds = new int[4 * 4];
        batch.Write(fixedIds, batch: 4, length: 4, maskId: 9);

        Assert.Equal([1, 2, -1, -1, -1, -1, -1, -1, 5, -1, -1, 6, 5, -1, -1, 6], fixedIds);
    }

    [Fact]
    public void A_per_sequence_prompt_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => SamplingPrompt.Concat([(SamplingPrompt.Prefixes([[1], [2]]), 2)]));

        Assert.Contains("shared by all their sequences", error.Message, StringComparison.Ordinal);
    }
}
