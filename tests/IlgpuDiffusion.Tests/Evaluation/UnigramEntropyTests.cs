using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class UnigramEntropyTests
{
    [Fact]
    public void A_constant_sequence_has_zero_entropy() => Assert.Equal(0, UnigramEntropy.OfSequence([5, 5, 5]));

    [Fact]
    public void Distinct_tokens_give_log_of_the_length() =>
        Assert.Equal(Math.Log(4), UnigramEntropy.OfSequence([1, 2, 3, 4]), 12);

    [Fact]
    public void Uneven_counts_follow_the_definition()
    {
        // counts 2, 1, 1 of 4: −(½ ln ½ + 2·¼ ln ¼) = 1.5 ln 2
        Assert.Equal(1.5 * Math.Log(2), UnigramEntropy.OfSequence([7, 7, 8, 9]), 12);
    }

    [Fact]
    public void Mean_weighs_every_sequence_the_same()
    {
        // ln 2 (length 2) and 0 (length 6): the mean is ln 2 / 2, not a token-weighted value.
        Assert.Equal(Math.Log(2) / 2, UnigramEntropy.Mean([[1, 2], [3, 3, 3, 3, 3, 3]]), 12);
    }

    [Fact]
    public void Empty_inputs_are_rejected_with_the_sequence_index()
    {
        Assert.Throws<ArgumentException>(() => UnigramEntropy.OfSequence([]));
        Assert.Throws<ArgumentException>(() => UnigramEntropy.Mean([]));
        var error = Assert.Throws<ArgumentException>(() => UnigramEntropy.Mean([[1], []]));
        Assert.Contains("Sequence 1", error.Message);
    }
}
