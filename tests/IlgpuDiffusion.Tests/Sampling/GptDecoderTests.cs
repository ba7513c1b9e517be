using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Sampling;

/// <summary>KV-cached decoding: greedy and filtered draws judged against the full forward, end-of-text, streaming, no allocation.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class GptDecoderTests
{
    private const int Prompt = 2;

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Greedy_decoding_takes_the_argmax_of_the_full_forward_at_every_position(string backend)
    {
        var (model, device) = Model(backend, GptPositions.Rotary);
        using var _ = model;
        using var decoder = new GptDecoder(model, TinyModels.Batch, TinyModels.GptTokens, Prompt,
            new GptSamplingOptions { Temperature = 0f });
        var prompts = new[] { new[] { 1, 2 }, new[] { 3, 4 } };
        var result = decoder.Generate(prompts);
        Assert.Equal(TinyModels.GptTokens - Prompt, result.ForwardPasses);
        var logits = FullLogits(model, device, result.Tokens);
        for (int b = 0; b < TinyModels.Batch; b++)
        {
            Assert.Equal(prompts[b], result.Tokens[b][..Prompt]);
            for (int t = Prompt; t < TinyModels.GptTokens; t++)
            {
                var row = logits.AsSpan((b * TinyModels.GptTokens + t - 1) * model.Config.Vocab, model.Config.Vocab).ToArray();
                Assert.Equal(Array.IndexOf(row, row.Max()), result.Tokens[b][t]);
            }
        }
    }

    /// <summary>On the fast backends (the filter and draw kernels have their own conformance tests on the emulator).</summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Top_k_and_top_p_draws_stay_in_their_support(string backend)
    {
        var (model, device) = Model(backend, GptPositions.Learned);
        using var _ = model;
        const int batch = 16;
        int vocab = model.Config.Vocab;
        foreach (var options in
            new[] { new GptSamplingOptions { TopK = 3, Seed = 1 }, new GptSamplingOptions { TopP = 0.6f, Temperature = 0.8f, Seed = 2 } })
        {
            using var decoder = new GptDecoder(model, batch, TinyModels.GptTokens, Prompt, options);
            var result = decoder.Generate([[5, 6]]);
            var logits = FullLogits(model, device, result.Tokens);
            var drawn = new HashSet<int>();
            for (int b = 0; b < batch; b++)
                for (int t = Prompt; t < TinyModels.GptTokens; t++)
                {
                    var row = logits.AsSpan((b * TinyModels.GptTokens + t - 1) * vocab, vocab).ToArray();
                    int token = result.Tokens[b][t];
                    Assert.Contains(token, Support(row, options));
                    if (t == Prompt) drawn.Add(token);
                }
            Assert.True(drawn.Count > 1, "The first draws of 16 sequences all agree: the sampler does not sample.");
        }
    }

    [Fact]
    public void End_of_text_finishes_a_sequence_and_stops_decoding_when_all_have()
    {
        var (model, device) = Model("cpu", GptPositions.Learned);
        using var _ = model;
        using var free = new GptDecoder(model, 1, TinyModels.GptTokens, Prompt, new GptSamplingOptions { Temperature = 0f });
        var greedy = free.Generate([[7, 8]]).Tokens[0];
        int endOfText = greedy[Prompt + 1], stop = Array.IndexOf(greedy, endOfText, Prompt) + 1;

        using var decoder = new GptDecoder(model, 2, TinyModels.GptTokens, Prompt,
            new GptSamplingOptions { Temperature = 0f, EndOfText = endOfText });
        var result = decoder.Generate([[7, 8]]);
        Assert.All(result.Tokens, sequence => Assert.Equal(greedy[..stop], sequence));
        Assert.Equal(stop - Prompt, result.ForwardPasses);
        Assert.True(decoder.Progress.IsFinal);
        Assert.Equal(stop, decoder.Progress.Position);
        Assert.Throws<InvalidOperationException>(() => decoder.Step());
    }

    [Fact]
    public async Task Streaming_yields_the_growing_sequences_of_the_same_run()
    {
        var (model, _) = Model("cpu", GptPositions.Learned);
        using var __ = model;
        var options = new GptSamplingOptions { TopK = 5, Seed = 9 };
        using var decoder = new GptDecoder(model, TinyModels.Batch, TinyModels.GptTokens, Prompt, options);
        var expected = decoder.Generate([[1, 2]]);
        var positions = new List<int>();
        await foreach (var progress in decoder.StreamAsync([[1, 2]]))
        {
            positions.Add(progress.Position);
            for (int b = 0; b < TinyModels.Batch; b++)
                Assert.Equal(expected.Tokens[b][..progress.Position], progress.Sequence(b).ToArray());
        }
        Assert.Equal(Enumerable.Range(Prompt + 1, TinyModels.GptTokens - Prompt), positions);
        Assert.True(decoder.Progress.IsFinal);
    }

    [Fact]
    public void Without_end_of_text_generation_on_an_ilgpu_device_waits_for_it_once_and_draws_what_stepping_draws()
    {
        var (model, device) = Model("ilgpu-cpu", GptPositions.Rotary);
        using var _ = model;
        using var decoder = new GptDecoder(model, TinyModels.Batch, TinyModels.GptTokens, Prompt,
            new GptSamplingOptions { Seed = 7, TopK = 5 });
        var prompts = new[] { new[] { 1, 2 }, new[] { 3, 4 } };
        decoder.Generate(prompts); // compiles the kernels
        long before = device.HostWaits;
        var generated = decoder.Generate(prompts);
        Assert.Equal(1, device.HostWaits - before); // the read of the draws at the end
        Assert.Equal(TinyModels.GptTokens - Prompt, generated.ForwardPasses);
        Assert.True(decoder.Progress.IsFinal);

        decoder.Start(prompts);
        while (decoder.Step()) { }
        var stepped = decoder.Result();
        for (int b = 0; b < TinyModels.Batch; b++)
            Assert.Equal(stepped.Tokens[b], generated.Tokens[b]);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Logits_without_a_finite_value_fail_decoding_with_a_clear_message(string backend)
    {
        var (model, _) = Model(backend, GptPositions.Learned);
        using var __ = model;
        foreach (var (name, shape) in model.Parameters.Entries)
            model.Parameters[name].CopyFrom(Enumerable.Repeat(float.NaN, (int)shape.Length).ToArray());
        using var decoder = new GptDecoder(model, TinyModels.Batch, TinyModels.GptTokens, Prompt, new GptSamplingOptions { Seed = 1 });
        Assert.Contains("could not be sampled", Assert.Throws<InvalidOperationException>(() => decoder.Generate([[1, 2]])).Message);
        decoder.Start([[1, 2]]);
        Assert.Contains("could not be sampled", Assert.Throws<InvalidOperationException>(() => decoder.Step()).Message);
    }

    [Fact]
    public void A_decoding_step_allocates_nothing_after_warm_up()
    {
        var (model, _) = Model("cpu", GptPositions.Learned);
        using var __ = model;
        using var decoder = new GptDecoder(model, TinyModels.Batch, TinyModels.GptTokens, Prompt,
            new GptSamplingOptions { TopK = 4, TopP = 0.9f, Seed = 3 });
        decoder.Start([[1, 2]]);
        SteadyStateAllocation.AssertNone(() => decoder.Step(), measured: 4); // the 8-token context holds 2 + 2 + 4
    }

    [Fact]
    public void Bad_prompts_and_options_are_rejected_with_clear_errors()
    {
        var (model, _) = Model("cpu", GptPositions.Learned);
        using var __ = model;
        using var decoder = new GptDecoder(model, 2, TinyModels.GptTokens, Prompt, new GptSamplingOptions());
        Assert.Contains("same length", Assert.Throws<ArgumentException>(() => decoder.Start([[1, 2], [3]])).Message);
        Assert.Contains("outside", Assert.Throws<ArgumentException>(() => decoder.Start([[1, 11]])).Message);
        Assert.Throws<ArgumentException>(() => decoder.Start([[1, 2, 3]]));
        Assert.Throws<ArgumentException>(() => decoder.Start([[1], [2], [3]]));
        Assert.Throws<InvalidOperationException>(() => decoder.Result());
        Assert.Throws<ArgumentOutOfRangeException>(() => new GptDecoder(model, 1, TinyModels.GptTokens, Prompt,
            new GptSamplingOptions { TopP = 0f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GptDecoder(model, 1, TinyModels.GptTokens, Prompt,
            new GptSamplingOptions { EndOfText = 50256 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GptDecoder(model, 1, TinyModels.GptTokens, TinyModels.GptTokens,
            new GptSamplingOptions()));
    }

    /// <summary>
    /// The tokens a draw may pick from the row's logits: the top-k set (ties kept) or the nucleus of the tempered softmax.
    /// </summary>
    private static HashSet<int> Support(float[] row, GptSamplingOptions options)
    {
        var order = Enumerable.Range(0, row.Length).OrderByDescending(v => row[v]).ToArray();
        if (options.TopK > 0)
            return order.Where(v => row[v] >= row[order[options.TopK - 1]]).ToHashSet();
        var scaled = row.Select(x => x / (double)options.Temperature).ToArray();
        double max = scaled.Max(), total = scaled.Sum(x => Math.Exp(x - max)), mass = 0;
        var nucleus = new HashSet<int>();
        foreach (int v in order)
        {
            nucleus.Add(v);
            mass += Math.Exp(scaled[v] - max);
            if (mass >= options.TopP * total * (1 - 1e-6)) break; // float and double sums may differ in the last bits
        }
        return nucleus;
    }

    private static (Gpt Model, Device Device) Model(string backend, GptPositions positions)
    {
        var device = TestBackends.Get(backend);
        var config = TinyModels.RandomGpt(positions);
        var model = new Gpt(config, device, withGradients: false);
        TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 21, scale: 0.8f));
        return (model, device);
    }

    /// <summary>The full forward's logits of full-length sequences [batch·tokens, V].</summary>
    private static float[] FullLogits(Gpt model, Device device, IReadOnlyList<int[]> sequences)
    {
        using var activations = model.CreateActivations(sequences.Count, TinyModels.GptTokens, training: false);
        var ids = TinyModels.Upload(device, sequences.SelectMany(s => s).ToArray());
        return TinyModels.Unpadded(model.Forward(activations, ids, GptDropout.Off).ToArray(), model.Config);
    }
}
