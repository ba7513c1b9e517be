using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Models;
using Xunit;

namespace IlgpuDiffusion.Tests.Autoregressive;

/// <summary>Teacher-forced log-likelihoods against the double reference forward's log-softmax.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class GptScorerTests
{
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Log_likelihoods_match_the_reference_in_partial_batches_and_head_chunks(string backend)
    {
        var config = TinyModels.RandomGpt(GptPositions.Learned, tied: false);
        var weights = TinyModels.HfWeights(config, seed: 31);
        using var model = new Gpt(config, TestBackends.Get(backend), withGradients: false);
        TinyModels.LoadHfWeights(model.Parameters, weights);
        const int count = 3, length = TinyModels.GptTokens;
        var ids = TinyModels.Ids(config, count * length, seed: 32);
        using var scorer = new GptScorer(model, batchSize: 2, length, headRows: 5);
        var actual = new float[count * (length - 1)];
        scorer.LogLikelihoods(ids, actual);

        var logits = ReferenceGpt.Logits(config, weights, ids, count, length);
        int v = config.Vocab;
        var expected = new double[actual.Length];
        for (int s = 0; s < count; s++)
            for (int t = 0; t < length - 1; t++)
            {
                var row = logits.AsSpan((s * length + t) * v, v);
                double max = double.NegativeInfinity, sum = 0;
                foreach (double x in row) max = Math.Max(max, x);
                foreach (double x in row) sum += Math.Exp(x - max);
                expected[s * (length - 1) + t] = row[ids[s * length + t + 1]] - max - Math.Log(sum);
            }
        Numerics.AssertClose(expected, actual, 1e-4, "log-likelihoods");
        var means = scorer.MeanNegativeLogLikelihoods(ids);
        for (int s = 0; s < count; s++)
            Assert.Equal(-expected.Skip(s * (length - 1)).Take(length - 1).Average(), means[s], 1e-4);
        Assert.Throws<ArgumentException>(() => scorer.LogLikelihoods(ids.AsSpan(1), actual));
        Assert.Throws<ArgumentException>(() => scorer.LogLikelihoods(Enumerable.Repeat(config.Vocab, length).ToArray(),
            new float[length - 1]));
    }
}
