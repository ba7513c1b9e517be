using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class BleuTests
{
    [Fact]
    public void An_identical_hypothesis_scores_one() => Assert.Equal(1, Bleu.Sentence([1, 2, 3, 4, 5], [[1, 2, 3, 4, 5]]), 12);

    [Fact]
    public void One_wrong_last_token_gives_the_geometric_mean_of_the_precisions()
    {
        // p1..p4 = 4/5, 3/4, 2/3, 1/2 (product 1/5); equal lengths, BP = 1.
        Assert.Equal(Math.Pow(0.2, 0.25), Bleu.Sentence([1, 2, 3, 4, 5], [[1, 2, 3, 4, 6]]), 12);
    }

    [Fact]
    public void Orders_without_a_match_get_epsilon_over_their_count()
    {
        // p1 = 3/4, p2 = 1/3, p3 = 0 → 0.1/2, p4 = 0 → 0.1/1.
        double expected = Math.Pow(0.75 * (1.0 / 3) * 0.05 * 0.1, 0.25);
        Assert.Equal(expected, Bleu.Sentence([1, 2, 3, 4], [[1, 2, 5, 4]]), 12);
        Assert.Equal(0.188030, expected, 6);
    }

    [Fact]
    public void Brevity_penalty_uses_the_closest_reference_length()
    {
        // c = 3; references of length 6 and 4: r = 4, BP = exp(1 − 4/3); p1..p3 = 1, p4 = 0.1 (no 4-gram, denominator 1).
        double expected = Math.Exp(1 - 4.0 / 3) * Math.Pow(0.1, 0.25);
        Assert.Equal(expected, Bleu.Sentence([1, 2, 3], [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4]]), 12);
    }

    [Fact]
    public void A_tie_in_reference_distance_picks_the_shorter_reference()
    {
        // c = 4, references of length 3 and 5: r = 3 < c, so BP = 1 and the score is the precision part only.
        double withTie = Bleu.Sentence([1, 2, 3, 4], [[1, 2, 3], [1, 2, 3, 4, 9]]);
        double longOnly = Bleu.Sentence([1, 2, 3, 4], [[1, 2, 3, 4, 9]]);
        Assert.Equal(1, withTie, 12);
        Assert.Equal(Math.Exp(1 - 5.0 / 4), longOnly, 12);
    }

    [Fact]
    public void Counts_are_clipped_by_the_reference_where_the_ngram_occurs_most()
    {
        // Unigram 7 occurs 4× in the hypothesis, at most 2× in one reference: p1 = 2/4.
        // Bigram (7,7): 3× vs at most 1× → 1/3; p3, p4 = ε/2, ε/1. r = 3 (closest to 4 among 2, 3), BP = 1.
        double expected = Math.Pow(0.5 * (1.0 / 3) * 0.05 * 0.1, 0.25);
        Assert.Equal(expected, Bleu.Sentence([7, 7, 7, 7], [[7, 8], [7, 7, 9]]), 12);
    }

    [Fact]
    public void No_unigram_match_or_an_empty_hypothesis_scores_zero()
    {
        Assert.Equal(0, Bleu.Sentence([1, 2, 3, 4], [[5, 6, 7, 8]]));
        Assert.Equal(0, Bleu.Sentence([], [[5, 6, 7, 8]]));
    }

    [Fact]
    public void Missing_or_empty_references_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Bleu.Sentence([1], []));
        var error = Assert.Throws<ArgumentException>(() => Bleu.Sentence([1], [[1], []]));
        Assert.Contains("Reference 1", error.Message);
    }
}
