namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Sentence BLEU-4 (Papineni et al. 2002) on token ids: uniform weights ¼ over the clipped n-gram
/// precisions p₁..p₄, times the brevity penalty, against one or more references. This is NLTK's
/// <c>sentence_bleu</c> with <c>SmoothingFunction().method1</c>, the configuration of Texygen's
/// self-BLEU that the diffusion-LM literature reuses.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Clipping: a hypothesis n-gram counts at most as often as it occurs in the reference where it occurs most.</item>
/// <item>Brevity penalty: r is the reference length closest to the hypothesis length c (the shorter one on a tie);
/// BP = 1 when c &gt; r, else exp(1 − r/c).</item>
/// <item>Smoothing (Chen &amp; Cherry 2014, method 1, ε = 0.1): an order with no matching n-gram gets the precision
/// ε / (number of hypothesis n-grams of that order), so one missing order does not zero the score. As in NLTK the
/// denominator is at least 1 (a hypothesis shorter than n tokens gets pₙ = ε), and a hypothesis without a single
/// matching unigram scores 0.</item>
/// </list>
/// </remarks>
public static class Bleu
{
    /// <summary>Largest n-gram order (BLEU-4).</summary>
    public const int MaxOrder = 4;

    /// <summary>The count given to an order without any match (Chen &amp; Cherry method 1, NLTK's default ε).</summary>
    public const double SmoothingEpsilon = 0.1;

    /// <summary>BLEU-4 of <paramref name="hypothesis"/> against <paramref name="references"/>, in [0, 1].</summary>
    /// <exception cref="ArgumentException">There is no reference, a reference is null or empty.</exception>
    public static double Sentence(ReadOnlySpan<int> hypothesis, IReadOnlyList<int[]> references)
    {
        ArgumentNullException.ThrowIfNull(references);
        if (references.Count == 0) throw new ArgumentException("BLEU needs at least one reference.", nameof(references));
        for (int i = 0; i < references.Count; i++)
        {
            if (references[i] is null || references[i].Length == 0)
                throw new ArgumentException($"Reference {i} is null or empty.", nameof(references));
        }
        if (hypothesis.IsEmpty) return 0;

        double logPrecisionSum = 0;
        for (int order = 1; order <= MaxOrder; order++)
        {
            (int matches, int total) = ClippedMatches(hypothesis, references, order);
            if (order == 1 && matches == 0) return 0;
            double precision = matches > 0 ? (double)matches / total : SmoothingEpsilon / Math.Max(1, total);
            logPrecisionSum += Math.Log(precision);
        }
        return BrevityPenalty(hypothesis.Length, ClosestReferenceLength(hypothesis.Length, references)) *
               Math.Exp(logPrecisionSum / MaxOrder);
    }

    /// <summary>BP = 1 when <paramref name="hypothesisLength"/> &gt; <paramref name="referenceLength"/>, else exp(1 − r/c).</summary>
    internal static double BrevityPenalty(int hypothesisLength, int referenceLength) =>
        hypothesisLength > referenceLength ? 1 : Math.Exp(1 - (double)referenceLength / hypothesisLength);

    private static int ClosestReferenceLength(int hypothesisLength, IReadOnlyList<int[]> references)
    {
        int best = references[0].Length;
        foreach (int[] reference in references)
        {
            int length = reference.Length;
            int distance = Math.Abs(length - hypothesisLength), bestDistance = Math.Abs(best - hypothesisLength);
            if (distance < bestDistance || (distance == bestDistance && length < best)) best = length;
        }
        return best;
    }

    /// <summary>Clipped matching n-grams of one order and the number of hypothesis n-grams of that order.</summary>
    private static (int Matches, int Total) ClippedMatches(ReadOnlySpan<int> hypothesis, IReadOnlyList<int[]> references, int order)
    {
        Dictionary<NGram, int> hypothesisCounts = Count(hypothesis, order);
        var maxReferenceCounts = new Dictionary<NGram, int>();
        foreach (int[] reference in references)
        {
            foreach ((NGram gram, int count) in Count(reference, order))
            {
                if (hypothesisCounts.ContainsKey(gram) && count > maxReferenceCounts.GetValueOrDefault(gram))
                    maxReferenceCounts[gram] = count;
            }
        }
        int matches = 0, total = 0;
        foreach ((NGram gram, int count) in hypothesisCounts)
        {
            total += count;
            matches += Math.Min(count, maxReferenceCounts.GetValueOrDefault(gram));
        }
        return (matches, total);
    }

    private static Dictionary<NGram, int> Count(ReadOnlySpan<int> tokens, int order)
    {
        var counts = new Dictionary<NGram, int>();
        for (int start = 0; start + order <= tokens.Length; start++)
        {
            var gram = NGram.At(tokens, start, order);
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }
        return counts;
    }

    /// <summary>An n-gram of order ≤ 4; unused slots are 0 (n-grams of different orders never share a dictionary).</summary>
    private readonly record struct NGram(int First, int Second, int Third, int Fourth)
    {
        public static NGram At(ReadOnlySpan<int> tokens, int start, int order) => new(
            tokens[start],
            order > 1 ? tokens[start + 1] : 0,
            order > 2 ? tokens[start + 2] : 0,
            order > 3 ? tokens[start + 3] : 0);
    }
}
