using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

/// <summary>
/// The unconditional runner on a tiny random DiT (V 32) with a rule judge: one row per step count, numbers as computed by hand.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class GenerativePerplexityRunnerTests
{
    /// <summary>log p(next | prev) = −1 when next = prev, else −2.</summary>
    private sealed class RepeatJudge : ITokenScorer
    {
        public int MaxLength => TinyModels.Length;

        public void ScoreNextTokens(ReadOnlySpan<int> ids, int batch, int length, Span<float> logLikelihoods)
        {
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < length - 1; i++)
                    logLikelihoods[b * (length - 1) + i] = ids[b * length + i + 1] == ids[b * length + i] ? -1f : -2f;
        }
    }

    [Fact]
    public void Rows_hold_both_conventions_and_entropy_of_the_seeded_samples()
    {
        using Dit model = TinyModels.NewSamplerDit(seed: 9);
        var retokenization = new Retokenization(
            ids => string.Join(' ', ids), text => text.Split(' ').Select(int.Parse).ToArray(), JudgeEndOfText: 0);
        var options = new EvaluationOptions
        {
            Steps = [3, 8],
            Samples = 5,
            SampleLength = 12,
            BatchSize = 2,
            Seed = 21,
            Retokenization = retokenization,
        };
        var progress = new List<EvaluationProgress>();
        IReadOnlyList<EvaluationRow> rows = GenerativePerplexityRunner.Run(model, "m", new RepeatJudge(), options, progress.Add);

        Assert.Equal([3, 8], rows.Select(r => r.Steps!.Value));
        foreach (EvaluationRow row in rows)
        {
            int[][] samples = DiffusionGeneration.Unconditional(model, row.Steps!.Value, 5, 12, 2, 21);
            Assert.All(samples, s => Assert.Equal(12, s.Length));
            double meanNll = samples.Average(s => Enumerable.Range(1, 11).Average(i => s[i] == s[i - 1] ? 1.0 : 2.0));
            Assert.Equal(["Gen PPL (SDTT)", EvaluationRow.EntropyName, "Gen PPL (MDLM)"], row.Metrics.Select(m => m.Name));
            Assert.Equal(Math.Exp(meanNll), row.Metrics[0].Value, 1e-9);
            Assert.Equal(UnigramEntropy.Mean(samples), row.Metrics[1].Value, 1e-12);
        }
        Assert.Equal([2, 4, 5, 2, 4, 5], progress.Where(p => p.Stage == GenerativePerplexityRunner.Stage).Select(p => p.Done));
        // Each row's scoring follows its sampling: both conventions, one judge pass each.
        Assert.Equal([(3, 0, 2), (3, 1, 2), (3, 2, 2), (8, 0, 2), (8, 1, 2), (8, 2, 2)], progress
            .Where(p => p.Stage == GenerativePerplexityRunner.ScoringStage).Select(p => (p.Steps!.Value, p.Done, p.Total)));
        Assert.Equal(rows, GenerativePerplexityRunner.Run(model, "m", new RepeatJudge(), options), new RowValues());
        Assert.Throws<ArgumentException>(() => GenerativePerplexityRunner.Run(model, "m", new RepeatJudge(),
            options with { SampleLength = 17 }));
    }

    [Fact]
    public void The_ar_row_judges_seeded_samples_that_start_with_bos()
    {
        using var model = new Gpt(TinyModels.EvaluationGpt(TinyModels.Length), TinyModels.Cpu, withGradients: false);
        model.Initialize(seed: 3);
        var options = new EvaluationOptions { Samples = 3, BatchSize = 2, Seed = 5, ArTopP = 0.9f, Retokenization = null };
        EvaluationRow row = GenerativePerplexityRunner.RunAutoregressive(model, "AR", new RepeatJudge(), length: 10, options);

        int[][] samples = ArGeneration.Unconditional(model, 3, 10, 2, 5, 0.9f);
        Assert.All(samples, s => Assert.Equal(10, s.Length));
        Assert.All(samples, s => Assert.Equal(Gpt2Tokenizer.Bos, s[0]));
        Assert.Null(row.Steps);
        Assert.Equal(["Gen PPL (SDTT)", EvaluationRow.EntropyName], row.Metrics.Select(m => m.Name));
        double meanNll = samples.Average(s => Enumerable.Range(1, 9).Average(i => s[i] == s[i - 1] ? 1.0 : 2.0));
        Assert.Equal(Math.Exp(meanNll), row.Metrics[0].Value, 1e-9);
        Assert.Equal(UnigramEntropy.Mean(samples), row.Metrics[1].Value, 1e-12);
        Assert.NotEqual(samples, ArGeneration.Unconditional(model, 3, 10, 2, 6, 0.9f));
    }

    private sealed class RowValues : IEqualityComparer<EvaluationRow>
    {
        public bool Equals(EvaluationRow? x, EvaluationRow? y) => x!.Steps == y!.Steps && x.Metrics.SequenceEqual(y.Metrics);

        public int GetHashCode(EvaluationRow row) => row.Steps.GetHashCode();
    }
}
