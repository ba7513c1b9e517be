using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class SelfBleuTests
{
    [Fact]
    public void Identical_continuations_give_one() =>
        Assert.Equal(1, SelfBleu.OfGroup([[4, 5, 6, 7, 8], [4, 5, 6, 7, 8], [4, 5, 6, 7, 8], [4, 5, 6, 7, 8], [4, 5, 6, 7, 8]]), 12);

    [Fact]
    public void Each_continuation_is_scored_against_the_others()
    {
        // BLEU(a,{b,c}) = 1 (c = a), BLEU(b,{a,c}) = 0.2^¼, BLEU(c,{a,b}) = 1.
        int[] a = [1, 2, 3, 4, 5], b = [1, 2, 3, 4, 6], c = [1, 2, 3, 4, 5];
        Assert.Equal((2 + Math.Pow(0.2, 0.25)) / 3, SelfBleu.OfGroup([a, b, c]), 12);
    }

    [Fact]
    public void Mean_averages_the_prompt_groups()
    {
        IReadOnlyList<int[]> same = [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]];
        IReadOnlyList<int[]> disjoint = [[1, 2, 3, 4], [5, 6, 7, 8]];
        Assert.Equal(0.5, SelfBleu.Mean([same, disjoint]), 12);
    }

    [Fact]
    public void Groups_that_cannot_be_scored_are_rejected_by_index()
    {
        Assert.Throws<ArgumentException>(() => SelfBleu.OfGroup([[1, 2]]));
        var error = Assert.Throws<ArgumentException>(() => SelfBleu.Mean([[[1], [1]], [[1], []]]));
        Assert.Contains("Prompt group 1", error.Message);
        Assert.Contains("Continuation 1", error.Message);
    }
}
