using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>The full forward against the double reference, KV-cached decoding against the full forward, and no allocation.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class GptForwardTests
{
    public static IEnumerable<object[]> Variants =>
        from row in TestBackends.All
        from variant in new[] { (GptPositions.Learned, true), (GptPositions.Rotary, false) }
        select new[] { row[0], variant.Item1, variant.Item2 };

    [SkippableTheory]
    [MemberData(nameof(Variants))]
    public void Forward_matches_the_double_reference(string backend, GptPositions positions, bool tied)
    {
        var config = TinyModels.RandomGpt(positions, tied);
        var device = TestBackends.Get(backend);
        using var model = new Gpt(config, device, withGradients: false);
        var weights = TinyModels.HfWeights(config, seed: 1);
        TinyModels.LoadHfWeights(model.Parameters, weights);
        var ids = TinyModels.Ids(config, TinyModels.Batch * TinyModels.GptTokens, seed: 2);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.GptTokens, training: false);
        var padded = model.Forward(activations, TinyModels.Upload(device, ids), GptDropout.Off).ToArray();
        var logits = TinyModels.Unpadded(padded, config);
        Numerics.AssertClose(ReferenceGpt.Logits(config, weights, ids, TinyModels.Batch, TinyModels.GptTokens), logits,
            TestBackends.TranscendentalTolerance(backend, 1e-4), "logits");

        // the trunk once, then the head in chunks of 3 rows: the same rows
        using var chunked = model.CreateActivations(TinyModels.Batch, TinyModels.GptTokens, training: false, headCapacity: 3);
        model.ForwardTrunk(chunked, TinyModels.Upload(device, ids));
        for (int first = 0; first < TinyModels.Batch * TinyModels.GptTokens; first += 3)
        {
            int count = Math.Min(3, TinyModels.Batch * TinyModels.GptTokens - first);
            var part = model.ForwardHead(chunked, first, count).ToArray();
            Assert.Equal(padded.AsSpan(first * config.PaddedVocab, count * config.PaddedVocab).ToArray(), part);
        }
        Assert.Throws<ArgumentException>(() => model.Forward(chunked, TinyModels.Upload(device, ids), GptDropout.Off));
    }

    [SkippableTheory]
    [MemberData(nameof(Variants))]
    public void Kv_cached_decoding_equals_the_full_causal_forward_token_by_token(string backend, GptPositions positions, bool tied)
    {
        var config = TinyModels.RandomGpt(positions, tied);
        var device = TestBackends.Get(backend);
        using var model = new Gpt(config, device, withGradients: false);
        TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 3));
        const int prompt = 3;
        var ids = TinyModels.Ids(config, TinyModels.Batch * TinyModels.GptTokens, seed: 4);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.GptTokens, training: false);
        var full = TinyModels.Unpadded(model.Forward(activations, TinyModels.Upload(device, ids), GptDropout.Off).ToArray(), config);

        using var cache = model.CreateCache(TinyModels.Batch, TinyModels.GptTokens, maxNewTokens: prompt);
        var promptIds = Columns(ids, 0, prompt);
        var step = TinyModels.Upload(device, new int[TinyModels.Batch]);
        for (int position = prompt - 1; position < TinyModels.GptTokens; position++)
        {
            var logits = position == prompt - 1
                ? model.ForwardCached(cache, TinyModels.Upload(device, promptIds), prompt)
                : Advance(model, cache, step, Columns(ids, position, 1));
            Assert.Equal(position + 1, cache.Position);
            var expected = Enumerable.Range(0, TinyModels.Batch)
                .SelectMany(b => full.Skip((b * TinyModels.GptTokens + position) * config.Vocab).Take(config.Vocab))
                .Select(v => (double)v).ToArray();
            Numerics.AssertClose(expected, TinyModels.Unpadded(logits.ToArray(), config), 2e-5, $"logits at position {position}");
        }
        Assert.Throws<InvalidOperationException>(() => model.ForwardCached(cache, step, 1));
        cache.Reset();
        Assert.Equal(0, cache.Position);
    }

    [Fact]
    public void Forward_backward_and_cached_steps_allocate_nothing_after_warm_up()
    {
        var config = TinyModels.RandomGpt(dropout: 0.1f);
        var device = TinyModels.Cpu;
        using var model = new Gpt(config, device);
        TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 5));
        var ids = TinyModels.Upload(device, TinyModels.Ids(config, TinyModels.Batch * TinyModels.GptTokens, seed: 6));
        var dLogits = TinyModels.Upload(device,
            TinyModels.Padded(Numerics.Random(TinyModels.Batch * TinyModels.GptTokens * config.Vocab, 7), config));
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.GptTokens, training: true);
        using var cache = model.CreateCache(TinyModels.Batch, TinyModels.GptTokens, maxNewTokens: 2);
        var next = TinyModels.Upload(device, new int[TinyModels.Batch]);
        void Step(ulong step)
        {
            model.Forward(activations, ids, GptDropout.Training(1, step));
            model.Backward(activations, dLogits);
            cache.Reset();
            model.ForwardCached(cache, ids, 2);
            model.ForwardCached(cache, next, 1);
        }
        ulong steps = 0;
        SteadyStateAllocation.AssertNone(() => Step(steps++));
    }

    private static Tensor<float> Advance(Gpt model, GptKvCache cache, Tensor<int> step, int[] ids)
    {
        step.CopyFrom(ids);
        return model.ForwardCached(cache, step, 1);
    }

    /// <summary>Columns [first, first + count) of a [batch, tokens] id matrix.</summary>
    private static int[] Columns(int[] ids, int first, int count) =>
        Enumerable.Range(0, TinyModels.Batch).SelectMany(b => ids.Skip(b * TinyModels.GptTokens + first).Take(count)).ToArray();
}
