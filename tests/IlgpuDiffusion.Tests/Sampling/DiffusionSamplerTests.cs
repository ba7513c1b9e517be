using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Sampling;

/// <summary>
/// The ancestral sampler's contracts on toy denoisers: reveal statistics, noise removal, conditioning, caching, reproducibility.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class DiffusionSamplerTests
{
    private const int Mask = TinyModels.Mask;

    [Fact]
    public void Each_step_reveals_about_the_masked_count_times_dt_over_t()
    {
        using var model = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { Steps = 8, BatchSize = 64, Seed = 11 };
        using var sampler = new DiffusionSampler(model, options);
        var grid = new SamplingGrid(options.Steps, options.Epsilon);
        int positions = options.BatchSize * TinyModels.Length, masked = positions, step = 0;
        foreach (var progress in Stream(sampler))
        {
            if (progress.IsFinal) break;
            double p = grid.RevealProbability(step++);
            double expected = masked * p, sigma = Math.Sqrt(masked * p * (1 - p));
            Assert.InRange(progress.Revealed, expected - 5 * sigma - 1, expected + 5 * sigma + 1);
            // Unconditionally, each step reveals L·Δt per sequence in expectation (a masked token survives to t with probability t).
            Assert.InRange(progress.Revealed, positions * grid.StepSize * 0.7, positions * grid.StepSize * 1.3);
            masked -= progress.Revealed;
            Assert.Equal(masked, progress.MaskedCount);
            Assert.Equal(masked, progress.Ids.ToArray().Count(id => id == Mask));
        }
        Assert.Equal(options.Steps, step);
    }

    [Fact]
    public void Noise_removal_fills_every_remaining_mask_with_the_models_argmax()
    {
        using var model = TinyModels.NewSamplerDit();
        // A large ε stops the grid early, so many positions are still masked before noise removal.
        var options = new SamplerOptions { Steps = 4, BatchSize = 4, Seed = 3, Epsilon = 0.5 };
        using var sampler = new DiffusionSampler(model, options);
        int[]? beforeRemoval = null;
        int[] final = [];
        foreach (var progress in Stream(sampler))
        {
            if (progress.IsFinal) final = progress.Ids.ToArray();
            else beforeRemoval = progress.Ids.ToArray();
        }
        Assert.NotNull(beforeRemoval);
        Assert.Contains(Mask, beforeRemoval);
        Assert.DoesNotContain(Mask, final);

        var logits = Logits(model, beforeRemoval, options.BatchSize);
        for (int p = 0; p < final.Length; p++)
        {
            if (beforeRemoval[p] != Mask) Assert.Equal(beforeRemoval[p], final[p]);
            else Assert.Equal(Argmax(logits.AsSpan(p * model.Config.PaddedVocab, Mask)), final[p]);
        }
        Assert.Equal(final, sampler.Sample().Ids);
    }

    [Fact]
    public void Without_noise_removal_late_masks_stay()
    {
        using var model = TinyModels.NewSamplerDit();
        using var sampler = new DiffusionSampler(model,
            new SamplerOptions { Steps = 2, BatchSize = 4, Epsilon = 0.5, NoiseRemoval = false });
        Assert.Contains(Mask, sampler.Sample().Ids);
    }

    [Fact]
    public void Prompt_and_infill_positions_never_change()
    {
        using var model = TinyModels.NewSamplerDit();
        var fixedTokens = new Dictionary<int, int> { [0] = 4, [1] = 7, [2] = 7, [13] = 1, [14] = 2, [15] = 3 };
        using var sampler = new DiffusionSampler(model, new SamplerOptions { Steps = 16, BatchSize = 3, Seed = 8 });
        int items = 0;
        foreach (var progress in Stream(sampler, SamplingPrompt.Infill(fixedTokens)))
        {
            items++;
            for (int b = 0; b < progress.BatchSize; b++)
                foreach (var (position, token) in fixedTokens)
                    Assert.Equal(token, progress.Ids[b * TinyModels.Length + position]);
        }
        Assert.Equal(17, items);

        var result = sampler.Sample(SamplingPrompt.Prefix([5, 6]));
        for (int b = 0; b < 3; b++)
            Assert.Equal([5, 6], result.Sequence(b)[..2].ToArray());
        Assert.DoesNotContain(Mask, result.Ids);
    }

    [Fact]
    public void Per_sequence_prompts_condition_their_own_sequence()
    {
        using var model = TinyModels.NewSamplerDit();
        using var sampler = new DiffusionSampler(model, new SamplerOptions { Steps = 8, BatchSize = 2 });
        var result = sampler.Sample(SamplingPrompt.Prefixes([[1, 2, 3], [9]]));
        Assert.Equal([1, 2, 3], result.Sequence(0)[..3].ToArray());
        Assert.Equal(9, result.Sequence(1)[0]);
        var error = Assert.Throws<ArgumentException>(() => sampler.Sample(SamplingPrompt.Prefixes([[1], [2], [3]])));
        Assert.Contains("batch has 2", error.Message);
    }

    [Fact]
    public void Cached_and_uncached_sampling_give_identical_ids_with_fewer_passes()
    {
        using var model = TinyModels.NewSamplerDit();
        // 64 steps for 16 tokens: most steps reveal nothing, so the cache skips most passes.
        var options = new SamplerOptions { Steps = 64, BatchSize = 1, Seed = 21 };
        using var cached = new DiffusionSampler(model, options);
        using var uncached = new DiffusionSampler(model, options with { Cached = false });
        Assert.True(cached.UsesCache);
        Assert.False(uncached.UsesCache);
        for (ulong seed = 21; seed < 24; seed++)
        {
            var a = cached.Sample(SamplingPrompt.Prefix([3]));
            var b = uncached.Sample(SamplingPrompt.Prefix([3]));
            Assert.Equal(a.Ids, b.Ids);
            Assert.InRange(b.ForwardPasses, options.Steps, options.Steps + 1);
            Assert.InRange(a.ForwardPasses, 1, TinyModels.Length);
        }
    }

    [Fact]
    public void A_cancelled_token_stops_sampling_and_the_sampler_samples_again_afterwards()
    {
        using var model = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { Steps = 8, BatchSize = 2, Seed = 5 };
        using var sampler = new DiffusionSampler(model, options);
        SamplingResult expected = sampler.Sample();
        Assert.Throws<OperationCanceledException>(() => sampler.Sample(cancellationToken: new CancellationToken(canceled: true)));
        Assert.Throws<OperationCanceledException>(() =>
            sampler.SampleLong(2 * TinyModels.Length, TinyModels.Length / 2, cancellationToken: new CancellationToken(canceled: true)));
        Assert.Equal(expected.Ids, sampler.Sample().Ids);
    }

    [Fact]
    public void The_same_seed_gives_the_same_text_and_another_seed_other_text()
    {
        using var model = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { Steps = 16, BatchSize = 4, Seed = 100 };
        using var first = new DiffusionSampler(model, options);
        using var second = new DiffusionSampler(model, options);
        using var other = new DiffusionSampler(model, options with { Seed = 101 });
        var ids = first.Sample().Ids;
        Assert.Equal(ids, second.Sample().Ids);
        Assert.Equal(ids, first.Sample().Ids);
        Assert.NotEqual(ids, other.Sample().Ids);
        Assert.All(ids, id => Assert.InRange(id, 0, Mask - 1));
        // The batch's sequences differ from each other.
        Assert.NotEqual(ids[..TinyModels.Length], ids[TinyModels.Length..(2 * TinyModels.Length)]);
    }

    [Fact]
    public async Task Streaming_yields_every_step_and_ends_with_the_sampled_ids()
    {
        using var model = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { Steps = 10, BatchSize = 2, Seed = 4 };
        using var sampler = new DiffusionSampler(model, options);
        var expected = sampler.Sample().Ids;
        var steps = new List<int>();
        int previousMasked = int.MaxValue;
        int[] last = [];
        await foreach (var progress in sampler.StreamAsync())
        {
            steps.Add(progress.Step);
            Assert.True(progress.MaskedCount <= previousMasked);
            previousMasked = progress.MaskedCount;
            last = progress.Ids.ToArray();
        }
        Assert.Equal(Enumerable.Range(1, 10).Append(10), steps);
        Assert.Equal(expected, last);

        using var cancellation = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var progress in sampler.StreamAsync(cancellationToken: cancellation.Token))
                if (progress.Step == 3) cancellation.Cancel();
        });
        Assert.Equal(expected, sampler.Sample().Ids); // a cancelled run leaves the sampler usable
    }

    [Fact]
    public void Semi_autoregressive_sampling_extends_the_first_window_without_changing_it()
    {
        using var model = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { Steps = 8, BatchSize = 2, Seed = 31 };
        using var sampler = new DiffusionSampler(model, options);
        var window = sampler.Sample(SamplingPrompt.Prefix([1, 2]));
        var result = sampler.SampleLong(totalLength: 43, stride: 6, SamplingPrompt.Prefix([1, 2]));
        Assert.Equal(43, result.Length);
        Assert.Equal(2 * 43, result.Ids.Length);
        Assert.DoesNotContain(Mask, result.Ids);
        for (int b = 0; b < 2; b++)
            Assert.Equal(window.Sequence(b).ToArray(), result.Sequence(b)[..TinyModels.Length].ToArray());
        // ⌈(43 − 16)/6⌉ = 5 further windows, each with at least one pass.
        Assert.InRange(result.ForwardPasses, window.ForwardPasses + 5, window.ForwardPasses + 5 * (options.Steps + 1));
        Assert.NotEqual(result.Sequence(0)[16..22].ToArray(), result.Sequence(0)[22..28].ToArray());

        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.SampleLong(10, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.SampleLong(40, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.SampleLong(40, 17));
    }

    [Fact]
    public void Semi_autoregressive_sampling_reports_every_step_of_every_window_and_draws_the_same_ids()
    {
        using var model = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { Steps = 4, BatchSize = 2, Seed = 5 };
        using var sampler = new DiffusionSampler(model, options);
        var expected = sampler.SampleLong(totalLength: 43, stride: 6);
        var reports = new List<SamplingStepCount>();
        var result = sampler.SampleLong(43, 6, progress: new DirectProgress<SamplingStepCount>(reports.Add));
        Assert.Equal(expected.Ids, result.Ids);
        Assert.Equal(6, sampler.WindowCount(43, 6)); // the first window of 16, then ⌈27/6⌉ = 5 more
        Assert.Equal(Enumerable.Range(1, 24).Select(done => new SamplingStepCount(done, 24)), reports);
    }

    /// <summary>Reports on the calling thread, unlike <see cref="Progress{T}"/>, which posts to the thread pool.</summary>
    private sealed class DirectProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    [Fact]
    public void A_step_allocates_nothing_after_warm_up()
    {
        using var model = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { BatchSize = 2, Seed = 9 };
        using var few = new DiffusionSampler(model, options with { Steps = 4 });
        using var many = new DiffusionSampler(model, options with { Steps = 64 });
        few.Sample();
        many.Sample();
        // a sample allocates its results, the same for any step count; the least of three runs, as the runtime now and
        // then allocates a few hundred bytes on a loaded machine (see SteadyStateAllocation)
        long fewBytes = Enumerable.Range(0, 3).Min(_ => AllocatedBy(() => few.Sample()));
        long manyBytes = Enumerable.Range(0, 3).Min(_ => AllocatedBy(() => many.Sample()));
        Assert.Equal(fewBytes, manyBytes);
    }

    [Fact]
    public void On_an_ilgpu_device_a_run_waits_for_it_once_and_draws_what_the_cpu_backend_draws()
    {
        using var model = TinyModels.NewSamplerDit("ilgpu-cpu");
        using var reference = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { Steps = 6, BatchSize = 3, Seed = 21 };
        using var sampler = new DiffusionSampler(model, options);
        using var cpuSampler = new DiffusionSampler(reference, options);
        sampler.Sample(); // compiles the kernels
        long before = model.Device.HostWaits;
        int reported = 0;
        var result = sampler.Sample(progress: new DirectProgress<SamplingStepCount>(_ => reported++));
        Assert.Equal(1, model.Device.HostWaits - before); // the read of the tokens at the end, progress or not
        Assert.Equal(options.Steps, reported);
        Assert.Equal(cpuSampler.Sample().Ids, result.Ids);
        Assert.DoesNotContain(Mask, result.Ids);
    }

    [Fact]
    public async Task A_streamed_run_reads_the_tokens_of_the_items_whose_ids_are_read_and_no_others()
    {
        using var model = TinyModels.NewSamplerDit("ilgpu-cpu");
        var options = new SamplerOptions { Steps = 6, BatchSize = 2, Seed = 8 };
        using var sampler = new DiffusionSampler(model, options);
        int[] expected = sampler.Sample().Ids; // compiles the kernels

        long before = model.Device.HostWaits;
        int[] last = [];
        int items = 0;
        await foreach (var progress in sampler.StreamAsync())
        {
            items++;
            if (progress.IsFinal) last = progress.Ids.ToArray();
        }
        Assert.Equal(options.Steps + 1, items);
        Assert.Equal(1, model.Device.HostWaits - before); // the final item's tokens, as Sample reads them
        Assert.Equal(expected, last);

        before = model.Device.HostWaits;
        await foreach (var progress in sampler.StreamAsync())
        {
            Assert.Equal(progress.MaskedCount, progress.Ids.Count(Mask));
            Assert.Equal(progress.MaskedCount, progress.Ids.Count(Mask)); // a second read of an item reads nothing more
            last = progress.Ids.ToArray();
        }
        Assert.InRange(model.Device.HostWaits - before, 2, options.Steps + 1);
        Assert.Equal(expected, last);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    public void A_head_run_in_chunks_of_rows_draws_the_ids_of_one_head_call(float temperature)
    {
        using var model = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { Steps = 5, BatchSize = 4, Seed = 17, Temperature = temperature };
        using var whole = new DiffusionSampler(model, options, length: null, headChunkRows: 4 * TinyModels.Length);
        using var chunked = new DiffusionSampler(model, options, length: null, headChunkRows: 3);
        var expected = whole.Sample();
        var actual = chunked.Sample();
        Assert.Equal(expected.Ids, actual.Ids);
        Assert.Equal(expected.ForwardPasses, actual.ForwardPasses);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Logits_without_a_finite_value_fail_the_run_with_a_clear_message(string backend)
    {
        using var model = TinyModels.NewSamplerDit(backend);
        foreach (var (name, shape) in model.Parameters.Entries)
            model.Parameters[name].CopyFrom(Enumerable.Repeat(float.NaN, (int)shape.Length).ToArray());
        using var sampler = new DiffusionSampler(model, new SamplerOptions { Steps = 4, BatchSize = 2, Seed = 3 });
        var failure = Assert.Throws<InvalidOperationException>(() => sampler.Sample());
        Assert.Contains("could not be sampled", failure.Message);
    }

    [Fact]
    public void A_time_conditioned_model_samples_uncached()
    {
        using var model = TinyModels.NewSamplerDit(timeConditioning: true);
        using var sampler = new DiffusionSampler(model, new SamplerOptions { Steps = 12, Cached = true });
        Assert.False(sampler.UsesCache);
        var result = sampler.Sample();
        Assert.InRange(result.ForwardPasses, 12, 13);
        Assert.DoesNotContain(Mask, result.Ids);
    }

    [Fact]
    public void Temperature_zero_reveals_the_most_likely_tokens_on_the_same_reveal_schedule()
    {
        using var model = TinyModels.NewSamplerDit();
        var options = new SamplerOptions { Steps = 6, BatchSize = 2, Seed = 5 };
        using var greedy = new DiffusionSampler(model, options with { Temperature = 0 });
        using var cold = new DiffusionSampler(model, options with { Temperature = 1e-6f });
        using var warm = new DiffusionSampler(model, options);
        int[] greedyIds = greedy.Sample().Ids;
        // A vanishing temperature leaves only the most likely token's mass, so the draws agree with the argmax.
        Assert.Equal(cold.Sample().Ids, greedyIds);
        Assert.NotEqual(warm.Sample().Ids, greedyIds);
    }

    [Fact]
    public void Bad_settings_and_prompts_fail_with_clear_messages()
    {
        using var model = TinyModels.NewSamplerDit();
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffusionSampler(model, new SamplerOptions { Steps = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffusionSampler(model, new SamplerOptions { Temperature = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffusionSampler(model, new SamplerOptions { Temperature = float.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffusionSampler(model, new SamplerOptions { TopP = 1.5f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffusionSampler(model, new SamplerOptions(), length: 17));
        using var sampler = new DiffusionSampler(model, new SamplerOptions { Steps = 2 }, length: 8);
        Assert.Contains("positions 0..7",
            Assert.Throws<ArgumentException>(() => sampler.Sample(SamplingPrompt.Infill(new Dictionary<int, int> { [8] = 1 }))).Message);
        Assert.Contains("not a text token", Assert.Throws<ArgumentException>(() => sampler.Sample(SamplingPrompt.Prefix([Mask]))).Message);
        Assert.Equal(8, sampler.Sample().Ids.Length);
    }

    private static IEnumerable<SamplingProgress> Stream(DiffusionSampler sampler, SamplingPrompt? prompt = null)
    {
        var enumerator = sampler.StreamAsync(prompt).GetAsyncEnumerator();
        try
        {
            while (enumerator.MoveNextAsync().AsTask().GetAwaiter().GetResult())
                yield return enumerator.Current;
        }
        finally { enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private static float[] Logits(Dit model, int[] ids, int batch)
    {
        using var activations = model.CreateActivations(batch, TinyModels.Length, training: false);
        var tensor = model.Device.Upload<int>(ids, new IlgpuDiffusion.Compute.Shape(batch, TinyModels.Length));
        try { return model.Forward(activations, tensor).ToArray(); }
        finally { tensor.Buffer.Dispose(); }
    }

    private static int Argmax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
        return best;
    }

    private static long AllocatedBy(Action action)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
