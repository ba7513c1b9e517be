using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

/// <summary>
/// The GPT judge: the scorer contract over GptScorer (exact at the context length, padded below it) and last-token features.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class GptJudgeTests
{
    private static Gpt TinyModel()
    {
        var config = TinyModels.RandomGpt(GptPositions.Learned, tied: false);
        var model = new Gpt(config, TinyModels.Cpu, withGradients: false);
        TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 41));
        return model;
    }

    [Theory]
    [InlineData(TinyModels.GptTokens)] // the bucket is the length itself: the very same scorer call
    [InlineData(5)]                    // padded to 8: causal, so the first 4 predictions do not change
    [InlineData(2)]
    public void Scores_equal_GptScorer_at_the_same_length(int length)
    {
        using Gpt model = TinyModel();
        using var judge = new GptJudge(model, batchSize: 2, headRows: 3);
        const int count = 3;
        int[] ids = TinyModels.Ids(model.Config, count * length, seed: 42);
        var actual = new float[count * (length - 1)];
        judge.ScoreNextTokens(ids, count, length, actual);

        using var scorer = new GptScorer(model, batchSize: count, length);
        var expected = new float[actual.Length];
        scorer.LogLikelihoods(ids, expected);
        if (length == TinyModels.GptTokens) Assert.Equal(expected, actual);
        else Numerics.AssertClose(expected.Select(x => (double)x).ToArray(), actual, 1e-5, "padded log-likelihoods");
        Assert.Equal(TinyModels.GptTokens, judge.MaxLength);
        Assert.Throws<ArgumentException>(() => judge.ScoreNextTokens(new int[count * 9], count, 9, new float[count * 8]));
    }

    [Fact]
    public void Features_are_the_final_norm_at_each_sequences_last_token()
    {
        using Gpt model = TinyModel();
        using var judge = new GptJudge(model, batchSize: 2);
        int[][] sequences = [TinyModels.Ids(model.Config, 5, 1), TinyModels.Ids(model.Config, 8, 2), TinyModels.Ids(model.Config, 1, 3),
            TinyModels.Ids(model.Config, 5, 4), TinyModels.Ids(model.Config, 3, 5)];
        float[][] features = judge.Features(sequences);

        Assert.Equal(sequences.Length, features.Length);
        Assert.All(features, f => Assert.Equal(model.Config.Hidden, f.Length));
        Assert.Equal(model.Config.Hidden, judge.FeatureWidth);
        for (int i = 0; i < sequences.Length; i++)
        {
            int length = sequences[i].Length;
            using var activations = model.CreateActivations(1, length, training: false, headCapacity: 1);
            using var ids = new DisposableIds(model.Device, sequences[i]);
            model.ForwardTrunk(activations, ids.Tensor);
            float[] expected = activations.FinalNorm.Slice(length - 1, 1).ToArray();
            Numerics.AssertClose(expected.Select(x => (double)x).ToArray(), features[i], 1e-5, $"features of sequence {i}");
        }
        Assert.Throws<ArgumentException>(() => judge.Features([new int[9]]));
        Assert.Throws<ArgumentException>(() => judge.Features([[model.Config.Vocab]]));
    }

    /// <summary>An uploaded id tensor freed on dispose.</summary>
    private sealed class DisposableIds(Device device, int[] ids) : IDisposable
    {
        public Tensor<int> Tensor { get; } = device.Upload<int>(ids, new Shape(ids.Length));

        public void Dispose() => Tensor.Buffer.Dispose();
    }
}
