using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>Forward-pass contracts: selected head rows, inference arenas, dropout modes, backend parity, no allocation.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class DitForwardTests
{
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Head_on_selected_rows_equals_the_full_head_on_those_rows(string backend)
    {
        var config = TinyModels.RandomDit();
        var device = TestBackends.Get(backend);
        using var model = new Dit(config, device, withGradients: false);
        TinyModels.Randomize(model.Parameters, seed: 21);
        var (_, noisy, masked) = TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 22);
        var ids = TinyModels.Upload(device, noisy);
        using var all = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false);
        using var some = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false, headCapacity: masked.Length);
        var full = model.Forward(all, ids, default, null, 0, DitDropout.Off).ToArray();
        var selected = model.Forward(some, ids, default, TinyModels.Upload(device, masked), masked.Length, DitDropout.Off).ToArray();

        Assert.Equal(masked.Length * config.PaddedVocab, selected.Length);
        var expected = masked.SelectMany(r => full.Skip(r * config.PaddedVocab).Take(config.PaddedVocab)).Select(v => (double)v).ToArray();
        Numerics.AssertClose(expected, selected, 1e-6, "selected rows");
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(some, ids, default, null, 0, DitDropout.Off));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void A_trunk_pass_serves_head_rows_until_the_next_pass(string backend)
    {
        var config = TinyModels.RandomDit();
        var device = TestBackends.Get(backend);
        using var model = new Dit(config, device, withGradients: false);
        TinyModels.Randomize(model.Parameters, seed: 23);
        var (_, noisy, masked) = TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 24);
        var ids = TinyModels.Upload(device, noisy);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false);
        var full = model.Forward(activations, ids).ToArray();
        Assert.Throws<InvalidOperationException>(() => model.ForwardHead(activations, null, 0));

        model.ForwardTrunk(activations, ids);
        var rows = TinyModels.Upload(device, masked);
        for (int repeat = 0; repeat < 2; repeat++)
        {
            var selected = model.ForwardHead(activations, rows, masked.Length).ToArray();
            var expected = masked.SelectMany(r => full.Skip(r * config.PaddedVocab).Take(config.PaddedVocab))
                .Select(v => (double)v).ToArray();
            Numerics.AssertClose(expected, selected, 1e-6, "head rows after a trunk pass");
        }
        Numerics.AssertClose(full.Select(v => (double)v).ToArray(), model.ForwardHead(activations, null, 0).ToArray(), 1e-6, "all rows");
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void A_backward_in_head_chunks_equals_the_backward_of_one_head_pass(string backend)
    {
        var config = TinyModels.RandomDit(timeConditioning: true, dropout: 0.1f);
        var device = TestBackends.Get(backend);
        using var model = new Dit(config, device);
        TinyModels.Randomize(model.Parameters, seed: 40);
        var ids = TinyModels.Upload(device, TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 41).Noisy);
        int[] rows = [7, 0, 3, 10, 5];
        float[] sigma = [0.4f, 1.3f], dLogits = Numerics.Random(rows.Length * config.PaddedVocab, 42, 1f);
        var dropout = DitDropout.Training(seed: 5, step: 1);
        using var whole = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true, headCapacity: rows.Length);
        model.ZeroGradients();
        model.Forward(whole, ids, sigma, TinyModels.Upload(device, rows), rows.Length, dropout);
        model.Backward(whole, TinyModels.Upload(device, dLogits));
        double[] expected = Array.ConvertAll(model.Gradients!.All.ToArray(), v => (double)v);

        using var chunked = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true, headCapacity: 2);
        model.ZeroGradients();
        model.ForwardTrunk(chunked, ids, sigma, dropout);
        for (int first = 0; first < rows.Length; first += 2)
        {
            int count = Math.Min(2, rows.Length - first);
            var logits = model.ForwardHead(chunked, TinyModels.Upload(device, rows[first..(first + count)]), count);
            logits.CopyFrom(dLogits[(first * config.PaddedVocab)..((first + count) * config.PaddedVocab)]);
            Assert.Throws<InvalidOperationException>(() => model.BackwardTrunk(whole)); // no chunked pass on that arena
            model.BackwardHead(chunked, logits);
            Assert.Throws<InvalidOperationException>(() => model.BackwardHead(chunked, logits)); // one backward per head chunk
        }
        model.BackwardTrunk(chunked);
        Numerics.AssertClose(expected, model.Gradients.All.ToArray(), 1e-5, "gradients");
        Assert.Throws<InvalidOperationException>(() => model.BackwardTrunk(chunked)); // the chunked backward is over
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void A_pass_without_head_rows_gives_no_logits_and_zero_gradients(string backend)
    {
        var config = TinyModels.RandomDit(dropout: 0.1f);
        var device = TestBackends.Get(backend);
        using var model = new Dit(config, device);
        TinyModels.Randomize(model.Parameters, seed: 30);
        var ids = TinyModels.Upload(device, TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 31).Noisy);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true, headCapacity: 4);
        model.Gradients!.Fill(1f);
        model.ZeroGradients();
        var logits = model.Forward(activations, ids, default, TinyModels.Upload(device, new int[1]), 0, DitDropout.Training(2, 3));
        Assert.Equal(0, logits.Length);
        model.Backward(activations, logits);
        Assert.All(model.Gradients.All.ToArray(), v => Assert.Equal(0f, v));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Inference_arena_matches_the_training_arena_and_dropout_only_acts_in_training(string backend)
    {
        var config = TinyModels.RandomDit(dropout: 0.1f);
        var device = TestBackends.Get(backend);
        using var model = new Dit(config, device);
        TinyModels.Randomize(model.Parameters, seed: 23);
        var ids = TinyModels.Upload(device, TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 24).Noisy);
        using var inference = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false);
        using var training = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true);
        float[] Run(DitActivations a, DitDropout dropout) => model.Forward(a, ids, default, null, 0, dropout).ToArray();

        var eval = Run(inference, DitDropout.Off);
        Assert.Equal(eval, Run(training, DitDropout.Off));
        Assert.Equal(eval, Run(inference, DitDropout.Off));
        var dropped = Run(training, DitDropout.Training(seed: 5, step: 1));
        Assert.NotEqual(eval, dropped);
        Assert.Equal(dropped, Run(training, DitDropout.Training(seed: 5, step: 1)));
        Assert.NotEqual(dropped, Run(training, DitDropout.Training(seed: 5, step: 2)));
        Assert.Throws<InvalidOperationException>(() => model.Forward(inference, ids, default, null, 0, DitDropout.Training(5, 1)));
        Assert.Throws<InvalidOperationException>(() => model.Backward(inference, inference.Logits));
    }

    [Fact]
    public void Backward_needs_a_completed_forward_and_sigma_per_sequence_with_time_conditioning()
    {
        var config = TinyModels.RandomDit(timeConditioning: true);
        var device = TinyModels.Cpu;
        using var model = new Dit(config, device);
        var ids = TinyModels.Upload(device, new int[TinyModels.Batch * TinyModels.DitTokens]);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true);
        Assert.Throws<InvalidOperationException>(() => model.Backward(activations, activations.Logits));
        var logits = model.Forward(activations, ids, [0.5f, 0.5f], null, 0, DitDropout.Off);
        Assert.Contains("sigma", Assert.Throws<ArgumentException>(() => model.Forward(activations, ids, [0.5f], null, 0,
            DitDropout.Off)).Message);
        Assert.Throws<InvalidOperationException>(() => model.Backward(activations, logits));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cpu_and_ilgpu_cpu_agree_on_logits_and_gradients(bool timeConditioning)
    {
        var config = TinyModels.RandomDit(timeConditioning, dropout: 0.1f);
        var results = new[] { "cpu", "ilgpu-cpu" }.Select(backend => TinyDitStep.Run(TestBackends.Get(backend), config)).ToArray();

        Numerics.AssertClose(Numerics.D(results[0].Logits), results[1].Logits, 1e-4, "logits");
        Assert.Equal(results[0].Loss, results[1].Loss, 1e-4 * Math.Abs(results[0].Loss));
        Numerics.AssertClose(Numerics.D(results[0].Gradients), results[1].Gradients, 1e-3, "gradients");
    }

    [Fact]
    public void Forward_and_backward_allocate_nothing_after_warm_up()
    {
        var config = TinyModels.RandomDit(timeConditioning: true, dropout: 0.1f);
        var device = TinyModels.Cpu;
        using var model = new Dit(config, device);
        TinyModels.Randomize(model.Parameters, seed: 27);
        var (_, noisy, masked) = TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 28);
        var ids = TinyModels.Upload(device, noisy);
        var rows = TinyModels.Upload(device, masked);
        var dLogits = TinyModels.Upload(device, Numerics.Random(masked.Length * config.PaddedVocab, 29));
        float[] sigma = [0.5f, 1.5f];
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true,
            headCapacity: masked.Length);
        void Step(ulong step)
        {
            model.Forward(activations, ids, sigma, rows, masked.Length, DitDropout.Training(1, step));
            model.Backward(activations, dLogits);
        }
        ulong next = 0;
        SteadyStateAllocation.AssertNone(() => Step(next++));
    }
}
