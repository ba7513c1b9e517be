namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Generative perplexity of model samples under an autoregressive judge, in both conventions of docs/algorithms.md §5.1
/// (they differ; a report must say which it uses). Each result carries the samples' mean unigram entropy.
/// </summary>
/// <remarks>
/// Sequences of equal length are scored together in batches of at most <c>batchSize</c>. Unlike MDLM's code,
/// retokenized samples are not padded to a common length, so a sample without EOS never gets a scored padding EOS.
/// </remarks>
public static class GenerativePerplexity
{
    /// <summary>
    /// SDTT's convention (<c>run_eval.uncond_eval</c>): the judge scores the raw ids (no retokenization, no BOS, no EOS
    /// handling); each sample's NLL is the mean over its length − 1 predictions; PPL = exp(mean over samples).
    /// </summary>
    /// <param name="samples">Model samples in the judge's vocabulary (GPT-2 ids for a GPT-2 judge), 2 .. MaxLength tokens each.</param>
    /// <exception cref="ArgumentException">No sample, a sample shorter than 2 tokens or longer than the judge's context.</exception>
    public static GenerativePerplexityResult PerSampleMean(IReadOnlyList<int[]> samples, ITokenScorer judge, int batchSize = 8)
    {
        CheckArguments(samples, judge, batchSize);
        for (int i = 0; i < samples.Count; i++)
        {
            if (samples[i].Length < 2)
                throw new ArgumentException($"Sample {i} has {samples[i].Length} token(s); a next-token NLL needs at least 2.",
                    nameof(samples));
            if (samples[i].Length > judge.MaxLength)
                throw new ArgumentException($"Sample {i} has {samples[i].Length} tokens, " +
                    $"more than the judge's context of {judge.MaxLength}. The SDTT convention scores raw samples whole; " +
                    "use a judge with a longer context or the token-weighted convention, which truncates.", nameof(samples));
        }
        float[][] logLikelihoods = Score(samples, judge, batchSize);
        var sampleMeans = new double[samples.Count];
        long scored = 0;
        for (int s = 0; s < samples.Count; s++)
        {
            double nll = 0;
            foreach (float value in logLikelihoods[s]) nll -= value;
            sampleMeans[s] = nll / logLikelihoods[s].Length;
            scored += logLikelihoods[s].Length;
        }
        double meanNll = sampleMeans.Average();
        double variance = sampleMeans.Sum(m => (m - meanNll) * (m - meanNll)) / (samples.Count - 1);
        return new GenerativePerplexityResult(GenerativePerplexityConvention.SdttPerSampleMean, Math.Exp(meanNll), meanNll,
            samples.Count, scored, UnigramEntropy.Mean(samples), Math.Sqrt(variance / samples.Count));
    }

    /// <summary>
    /// MDLM's convention (<c>compute_generative_perplexity</c>, also DUO's): decode each sample, retokenize it for the
    /// judge, truncate to the judge's context; score the targets that are not EOS plus the first EOS of the sample
    /// (an EOS at position 0 is that first one, so no later EOS is scored); PPL = exp(Σ NLL / Σ scored tokens).
    /// </summary>
    /// <param name="samples">Raw model samples (the unigram entropy is taken on these).</param>
    /// <param name="retokenization">Sample-to-judge tokenization, e.g. <see cref="Retokenization.Gpt2"/>.</param>
    /// <exception cref="ArgumentException">No sample, an empty sample, or no sample with a scorable target.</exception>
    public static GenerativePerplexityResult TokenWeighted(IReadOnlyList<int[]> samples, ITokenScorer judge, Retokenization retokenization,
        int batchSize = 8)
    {
        CheckArguments(samples, judge, batchSize);
        ArgumentNullException.ThrowIfNull(retokenization);
        for (int i = 0; i < samples.Count; i++)
        {
            if (samples[i].Length == 0) throw new ArgumentException($"Sample {i} is empty.", nameof(samples));
        }
        var judged = new List<int[]>(samples.Count);
        foreach (int[] sample in samples)
        {
            int[] ids = retokenization.EncodeForJudge(retokenization.DecodeSample(sample));
            if (ids.Length > judge.MaxLength) ids = ids[..judge.MaxLength];
            if (ids.Length >= 2) judged.Add(ids);
        }
        float[][] logLikelihoods = Score(judged, judge, batchSize);
        var sampleNll = new double[judged.Count];
        var sampleTokens = new long[judged.Count];
        for (int s = 0; s < judged.Count; s++)
        {
            int[] ids = judged[s];
            int firstEndOfText = Array.IndexOf(ids, retokenization.JudgeEndOfText);
            for (int target = 1; target < ids.Length; target++)
            {
                if (ids[target] == retokenization.JudgeEndOfText && target != firstEndOfText) continue;
                sampleNll[s] -= logLikelihoods[s][target - 1];
                sampleTokens[s]++;
            }
        }
        long scored = sampleTokens.Sum();
        if (scored == 0)
            throw new ArgumentException("No sample has a target to score: every sample retokenizes to fewer than 2 tokens or to EOS only.",
                nameof(samples));
        double meanNll = sampleNll.Sum() / scored;
        return new GenerativePerplexityResult(GenerativePerplexityConvention.MdlmTokenWeighted, Math.Exp(meanNll), meanNll,
            samples.Count, scored, UnigramEntropy.Mean(samples), RatioStandardError(sampleNll, sampleTokens, meanNll));
    }

    /// <summary>
    /// Standard error of the ratio r = Σ nll / Σ tokens over n independent samples, by the delta method:
    /// sqrt(Σ (nllᵢ − r·tokensᵢ)² / (n − 1) / n) / mean(tokens). NaN for one sample.
    /// </summary>
    private static double RatioStandardError(double[] nll, long[] tokens, double ratio)
    {
        int n = nll.Length;
        if (n < 2) return double.NaN;
        double residuals = 0;
        for (int s = 0; s < n; s++) residuals += (nll[s] - ratio * tokens[s]) * (nll[s] - ratio * tokens[s]);
        return Math.Sqrt(residuals / (n - 1) / n) / ((double)tokens.Sum() / n);
    }

    /// <summary>How far above 0 a judge's log-likelihood may round (a log-softmax in fp32 can return a few ulps above 0).</summary>
    private const float RoundingAboveZero = 1e-3f;

    /// <summary>Next-token log-likelihoods of every sequence (length − 1 values each), batching sequences of equal length.</summary>
    private static float[][] Score(IReadOnlyList<int[]> sequences, ITokenScorer judge, int batchSize)
    {
        var result = new float[sequences.Count][];
        foreach (IGrouping<int, int> sameLength in Enumerable.Range(0, sequences.Count).GroupBy(i => sequences[i].Length))
        {
            int length = sameLength.Key;
            foreach (int[] members in sameLength.Chunk(batchSize))
            {
                var ids = new int[members.Length * length];
                for (int b = 0; b < members.Length; b++) sequences[members[b]].CopyTo(ids, b * length);
                var logLikelihoods = new float[members.Length * (length - 1)];
                judge.ScoreNextTokens(ids, members.Length, length, logLikelihoods);
                for (int b = 0; b < members.Length; b++)
                {
                    float[] row = logLikelihoods.AsSpan(b * (length - 1), length - 1).ToArray();
                    int bad = Array.FindIndex(row, value => !float.IsFinite(value) || value > RoundingAboveZero);
                    if (bad >= 0)
                        throw new InvalidOperationException($"The judge returned log-likelihood {row[bad]} at position {bad} " +
                            $"of a sequence of length {length}; a log-likelihood is finite and at most 0 (up to rounding).");
                    result[members[b]] = row;
                }
            }
        }
        return result;
    }

    private static void CheckArguments(IReadOnlyList<int[]> samples, ITokenScorer judge, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (samples.Count == 0) throw new ArgumentException("Generative perplexity needs at least one sample.", nameof(samples));
        if (judge.MaxLength < 2)
            throw new ArgumentException($"The judge's context of {judge.MaxLength} tokens holds no prediction.", nameof(judge));
        for (int i = 0; i < samples.Count; i++)
        {
            if (samples[i] is null) throw new ArgumentException($"Sample {i} is null.", nameof(samples));
        }
    }
}
