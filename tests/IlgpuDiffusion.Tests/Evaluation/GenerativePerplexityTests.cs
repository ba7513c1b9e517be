using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class GenerativePerplexityTests
{
    /// <summary>A bigram judge by rule: log p(next | prev) = −1 when next = prev + 1, else −3. Records its calls.</summary>
    private sealed class StepJudge(int maxLength) : ITokenScorer
    {
        public List<(int Batch, int Length)> Calls { get; } = [];

        public int MaxLength => maxLength;

        public void ScoreNextTokens(ReadOnlySpan<int> ids, int batch, int length, Span<float> logLikelihoods)
        {
            Calls.Add((batch, length));
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < length - 1; i++)
                    logLikelihoods[b * (length - 1) + i] = ids[b * length + i + 1] == ids[b * length + i] + 1 ? -1f : -3f;
            }
        }
    }

    /// <summary>Uniform over the GPT-2 vocabulary: every log-likelihood is −ln 50257.</summary>
    private sealed class UniformGpt2Judge : ITokenScorer
    {
        public int MaxLength => 1024;

        public void ScoreNextTokens(ReadOnlySpan<int> ids, int batch, int length, Span<float> logLikelihoods) =>
            logLikelihoods.Fill(-MathF.Log(Gpt2Tokenizer.VocabularySize));
    }

    [Fact]
    public void Sdtt_convention_averages_each_sample_then_the_samples()
    {
        // [0,1,2,3]: NLL 1,1,1 → mean 1.  [5,5]: NLL 3 → mean 3.  PPL = exp((1 + 3)/2) = e²  (token-weighted would be exp(6/4)).
        var judge = new StepJudge(maxLength: 8);
        GenerativePerplexityResult result = GenerativePerplexity.PerSampleMean([[0, 1, 2, 3], [5, 5]], judge);
        Assert.Equal(GenerativePerplexityConvention.SdttPerSampleMean, result.Convention);
        Assert.Equal(2.0, result.MeanNll, 12);
        Assert.Equal(Math.Exp(2.0), result.Perplexity, 9);
        Assert.Equal(4, result.ScoredTokens);
        Assert.Equal(2, result.Samples);
        Assert.Equal(Math.Log(4) / 2, result.MeanUnigramEntropy, 12); // ln 4 and 0
        // Per-sample means 1 and 3: sample standard deviation √2, standard error √2/√2 = 1.
        Assert.Equal(1.0, result.MeanNllStandardError, 12);
        Assert.Equal((Math.Exp(2 - 1.959964), Math.Exp(2 + 1.959964)), result.ConfidenceInterval);
    }

    [Fact]
    public void One_sample_has_no_confidence_interval_and_the_row_shows_one_only_when_it_exists()
    {
        var judge = new StepJudge(maxLength: 8);
        GenerativePerplexityResult one = GenerativePerplexity.PerSampleMean([[0, 1, 2, 3]], judge);
        Assert.True(double.IsNaN(one.MeanNllStandardError));
        Assert.Null(EvaluationRow.For("m", 8).With(one).Metrics[0].High);

        GenerativePerplexityResult two = GenerativePerplexity.PerSampleMean([[0, 1, 2, 3], [5, 5]], judge);
        EvaluationMetric metric = EvaluationRow.For("m", 8).With(two).Metrics[0];
        Assert.Equal(two.ConfidenceInterval, (metric.Low!.Value, metric.High!.Value));
        Assert.Equal("7.39 (1.04–52.46)", metric.Format());
    }

    [Fact]
    public void Sequences_of_equal_length_are_scored_together_in_batches()
    {
        var judge = new StepJudge(maxLength: 8);
        int[][] samples = [[0, 1, 2], [0, 1], [3, 4, 5], [7, 7, 7], [1, 2]];
        GenerativePerplexityResult result = GenerativePerplexity.PerSampleMean(samples, judge, batchSize: 2);
        // Means: 1, 1, 1, 3, 1 → 7/5.
        Assert.Equal(7.0 / 5, result.MeanNll, 12);
        Assert.Equal([(2, 3), (1, 3), (2, 2)], judge.Calls);
    }

    [Fact]
    public void Sdtt_convention_refuses_samples_longer_than_the_judge_context()
    {
        var error = Assert.Throws<ArgumentException>(() => GenerativePerplexity.PerSampleMean([[0, 1], [0, 1, 2, 3]],
            new StepJudge(maxLength: 3)));
        Assert.Contains("Sample 1", error.Message);
        Assert.Throws<ArgumentException>(() => GenerativePerplexity.PerSampleMean([[0]], new StepJudge(maxLength: 3)));
        Assert.Throws<ArgumentException>(() => GenerativePerplexity.PerSampleMean([], new StepJudge(maxLength: 3)));
    }

    /// <summary>
    /// Model ids 0..3 decode to "a".."d" and 9 (EOS) to "|"; the judge tokenizer maps letters back to 0..3 except that
    /// "ab" becomes one token 10, and "|" becomes the judge's EOS 7.
    /// </summary>
    private static readonly Retokenization Toy = new(
        ids => string.Concat(ids.Select(id => id == 9 ? "|" : ((char)('a' + id)).ToString())),
        text =>
        {
            var ids = new List<int>();
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] == 'a' && i + 1 < text.Length && text[i + 1] == 'b') { ids.Add(10); i++; }
                else ids.Add(text[i] == '|' ? 7 : text[i] - 'a');
            }
            return [.. ids];
        },
        JudgeEndOfText: 7);

    [Fact]
    public void Mdlm_convention_retokenizes_and_scores_non_EOS_targets_plus_the_first_EOS()
    {
        // [0,1,2,3] → "abcd" → [10,2,3]: targets 2 (NLL 3), 3 (NLL 1).
        // [2,9,3,9] → "c|d|" → [2,7,3,7]: targets 7 (first EOS, 3), 3 (3); the second EOS is not scored.
        // Σ NLL = 10 over 4 tokens.
        GenerativePerplexityResult result = GenerativePerplexity.TokenWeighted([[0, 1, 2, 3], [2, 9, 3, 9]],
            new StepJudge(maxLength: 8), Toy);
        Assert.Equal(GenerativePerplexityConvention.MdlmTokenWeighted, result.Convention);
        Assert.Equal(4, result.ScoredTokens);
        Assert.Equal(2.5, result.MeanNll, 12);
        Assert.Equal(Math.Exp(2.5), result.Perplexity, 9);
        Assert.Equal((Math.Log(4) + 1.5 * Math.Log(2)) / 2, result.MeanUnigramEntropy, 12); // raw samples: ln 4 and counts {2:1, 9:2, 3:1}
        // Delta method: samples (NLL 4, 2 tokens) and (6, 2); residuals 4 − 5 = −1 and 6 − 5 = 1 → √(2/1/2)/2 = 0.5.
        Assert.Equal(0.5, result.MeanNllStandardError, 12);
    }

    [Fact]
    public void Mdlm_convention_truncates_to_the_judge_context()
    {
        // MaxLength 2: [10,2] → target 2 (NLL 3); [2,7] → target 7 (first EOS, NLL 3).
        GenerativePerplexityResult result = GenerativePerplexity.TokenWeighted([[0, 1, 2, 3], [2, 9, 3, 9]],
            new StepJudge(maxLength: 2), Toy);
        Assert.Equal(2, result.ScoredTokens);
        Assert.Equal(Math.Exp(3), result.Perplexity, 9);
    }

    [Fact]
    public void Mdlm_convention_counts_a_leading_EOS_as_the_first_one()
    {
        // [9,0,9] → "|a|" → [7,0,7]: the EOS at position 0 is the first, so only target 0 is scored (NLL 3).
        GenerativePerplexityResult result = GenerativePerplexity.TokenWeighted([[9, 0, 9]], new StepJudge(maxLength: 8), Toy);
        Assert.Equal(1, result.ScoredTokens);
        Assert.Equal(3, result.MeanNll, 12);
    }

    [Fact]
    public void With_GPT2_retokenization_a_uniform_judge_gives_the_vocabulary_size()
    {
        int[] sample = [15496, 995, Gpt2Tokenizer.Eos, 15496, Gpt2Tokenizer.Eos]; // "Hello world<|endoftext|>Hello<|endoftext|>"
        var judge = new UniformGpt2Judge();
        GenerativePerplexityResult kept = GenerativePerplexity.TokenWeighted([sample], judge, Retokenization.Gpt2());
        Assert.Equal(3, kept.ScoredTokens); // " world", the first EOS, "Hello"; not the second EOS
        Assert.Equal(1, kept.Perplexity / Gpt2Tokenizer.VocabularySize, 6); // fp32 log-likelihoods

        GenerativePerplexityResult stripped = GenerativePerplexity.TokenWeighted([sample], judge,
            Retokenization.Gpt2(stripEndOfText: true));
        Assert.Equal(Gpt2Tokenizer.Shared.Encode("Hello worldHello").Length - 1, stripped.ScoredTokens);

        GenerativePerplexityResult raw = GenerativePerplexity.PerSampleMean([sample], judge);
        Assert.Equal(4, raw.ScoredTokens);
        Assert.Equal(1, raw.Perplexity / Gpt2Tokenizer.VocabularySize, 6);
    }

    [Fact]
    public void A_judge_returning_an_impossible_log_likelihood_is_reported()
    {
        var error = Assert.Throws<InvalidOperationException>(() => GenerativePerplexity.PerSampleMean([[1, 2]], new BrokenJudge()));
        Assert.Contains("NaN", error.Message);
    }

    private sealed class BrokenJudge : ITokenScorer
    {
        public int MaxLength => 4;

        public void ScoreNextTokens(ReadOnlySpan<int> ids, int batch, int length, Span<float> logLikelihoods) =>
            logLikelihoods.Fill(float.NaN);
    }
}
