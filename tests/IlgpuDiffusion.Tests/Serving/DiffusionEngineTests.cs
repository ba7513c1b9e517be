using IlgpuDiffusion.Serving;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>The batching engine over a diffusion model: seeds, batching, the queue bound, cancellation and disposal.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class DiffusionEngineTests : IDisposable
{
    private readonly ServingModels _models = new();

    [Fact]
    public async Task A_seeded_request_gives_the_texts_of_the_models_own_Generate_and_Infill()
    {
        using DiffusionLanguageModel model = _models.Diffusion();
        await using var engine = TextGenerationEngine.ForDiffusion(model);

        TextCompletion completion = await engine.CompleteAsync(new TextRequest { Prompt = "ab", MaxTokens = 6, Samples = 2, Seed = 3 });
        TextCompletion infilled = await engine.CompleteAsync(new TextRequest { Prompt = "ab", Suffix = "z", Seed = 5, Steps = 6 });

        IReadOnlyList<string> expected = model.Generate("ab", new GenerationOptions { Samples = 2, Seed = 3, Length = 9 });
        Assert.Equal(expected, completion.Texts.Select(text => "ab" + text));
        Assert.Equal((3, 12, "length"), (completion.PromptTokens, completion.CompletionTokens, completion.FinishReason));
        Assert.Equal(["length", "length"], completion.FinishReasons);
        string expectedInfill = Assert.Single(model.Infill("ab", "z", new GenerationOptions { Seed = 5, Steps = 6 }));
        Assert.Equal(expectedInfill, "ab" + Assert.Single(infilled.Texts) + "z");
        Assert.Equal((5, 11), (infilled.PromptTokens, infilled.CompletionTokens));
    }

    [Fact]
    public async Task A_batch_whose_requests_do_not_stream_waits_for_the_device_once()
    {
        using DiffusionLanguageModel model = _models.Diffusion(backend: "ilgpu-cpu");
        await using var engine = TextGenerationEngine.ForDiffusion(model);
        var request = new TextRequest { Prompt = "ab", Steps = 6, Samples = 2, Seed = 3 };
        TextCompletion first = await engine.CompleteAsync(request); // compiles the kernels

        long before = model.Model.Device.HostWaits;
        TextCompletion second = await engine.CompleteAsync(request);

        Assert.Equal(1, model.Model.Device.HostWaits - before); // the tokens at the end, not one read per step
        Assert.Equal(first.Texts, second.Texts);
    }

    [Fact]
    public async Task Concurrent_seedless_requests_of_one_shape_run_as_one_batch_and_all_complete()
    {
        using DiffusionLanguageModel model = _models.Diffusion();
        await using var engine = TextGenerationEngine.ForDiffusion(model);
        using var gate = new CancellationTokenSource();
        var (_, gateDrained) = await ServingModels.StartRunning(engine, ServingModels.Endless(), gate.Token);

        Task<TextCompletion>[] requests = Enumerable.Range(0, 8)
            .Select(i => engine.CompleteAsync(new TextRequest { Prompt = i % 2 == 0 ? "ab" : "xyz", Steps = 8 }))
            .ToArray();
        Assert.Equal(8, engine.QueueLength);
        await gate.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gateDrained);
        TextCompletion[] completions = await Task.WhenAll(requests);

        Assert.All(completions, completion => Assert.Single(completion.Texts));
        Assert.Equal([13, 12, 13, 12, 13, 12, 13, 12], completions.Select(completion => completion.CompletionTokens));
        TextEngineStatistics statistics = engine.Statistics;
        Assert.Equal((9, 9, 2), (statistics.Requests, statistics.Sequences, statistics.Batches));
    }

    [Fact]
    public async Task Concurrent_seedless_requests_take_fewer_model_passes_than_one_run_each()
    {
        using DiffusionLanguageModel model = _models.Diffusion();
        await using var engine = TextGenerationEngine.ForDiffusion(model);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => engine.CompleteAsync(new TextRequest { Prompt = "ab", Steps = 8 })));

        Assert.Equal(8, engine.Statistics.Requests);
        Assert.True(engine.Statistics.ModelPasses < 8 * 8, $"{engine.Statistics}");
    }

    [Fact]
    public async Task A_request_beyond_the_queue_bound_is_refused_at_once()
    {
        using DiffusionLanguageModel model = _models.Diffusion();
        await using var engine = TextGenerationEngine.ForDiffusion(model, new TextEngineOptions { MaxQueue = 1 });
        using var stop = new CancellationTokenSource();
        var (_, drained) = await ServingModels.StartRunning(engine, ServingModels.Endless(), stop.Token);
        Task<TextCompletion> waiting = engine.CompleteAsync(new TextRequest { Prompt = "b" }, stop.Token);

        var busy = Assert.Throws<EngineBusyException>(() => { _ = engine.CompleteAsync(new TextRequest { Prompt = "c" }); });

        Assert.Contains("1 requests waiting", busy.Message, StringComparison.Ordinal);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => drained);
    }

    [Fact]
    public async Task A_request_cancelled_while_waiting_leaves_the_queue_at_once()
    {
        using DiffusionLanguageModel model = _models.Diffusion();
        await using var engine = TextGenerationEngine.ForDiffusion(model, new TextEngineOptions { MaxQueue = 1 });
        using var stop = new CancellationTokenSource();
        var (_, drained) = await ServingModels.StartRunning(engine, ServingModels.Endless(), stop.Token);
        using var cancel = new CancellationTokenSource();
        Task<TextCompletion> waiting = engine.CompleteAsync(new TextRequest { Prompt = "b" }, cancel.Token);

        await cancel.CancelAsync();

        Assert.True(waiting.IsCanceled);
        Assert.Equal(0, engine.QueueLength);
        Task<TextCompletion> next = engine.CompleteAsync(new TextRequest { Prompt = "c", Seed = 1 });
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => drained);
        Assert.Single((await next).Texts);
    }

    [Fact]
    public async Task A_request_cancelled_while_running_ends_at_once_and_the_engine_keeps_serving()
    {
        using DiffusionLanguageModel model = _models.Diffusion();
        await using var engine = TextGenerationEngine.ForDiffusion(model);
        using var gate = new CancellationTokenSource();
        using var cancel = new CancellationTokenSource();
        var (_, gateDrained) = await ServingModels.StartRunning(engine, ServingModels.Endless(), gate.Token);
        Task<TextCompletion> running = engine.CompleteAsync(ServingModels.Endless(), cancel.Token);
        await gate.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gateDrained);
        for (int wait = 0; wait < 500 && engine.QueueLength > 0; wait++) await Task.Delay(10);
        Assert.Equal(0, engine.QueueLength);

        await cancel.CancelAsync();

        Assert.True(running.IsCanceled);
        TextCompletion after = await engine.CompleteAsync(new TextRequest { Prompt = "a", Seed = 2 });
        Assert.Equal(model.Generate("a", new GenerationOptions { Seed = 2 }), after.Texts.Select(text => "a" + text));
        Assert.Equal(3, engine.Statistics.Batches);
    }

    [Fact]
    public async Task Disposing_fails_the_waiting_and_running_requests_and_refuses_new_ones()
    {
        using DiffusionLanguageModel model = _models.Diffusion();
        var engine = TextGenerationEngine.ForDiffusion(model);
        var (_, drained) = await ServingModels.StartRunning(engine, ServingModels.Endless(), CancellationToken.None);
        Task<TextCompletion> waiting = engine.CompleteAsync(new TextRequest { Prompt = "b", Seed = 1 });

        await engine.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => drained);
        Assert.Throws<ObjectDisposedException>(() => { _ = engine.CompleteAsync(new TextRequest()); });
    }

    [Fact]
    public async Task A_stream_yields_every_denoising_step_then_the_final_texts()
    {
        using DiffusionLanguageModel model = _models.Diffusion();
        await using var engine = TextGenerationEngine.ForDiffusion(model);
        var request = new TextRequest { Prompt = "ab", Seed = 4, Steps = 5 };

        var updates = new List<TextUpdate>();
        await foreach (TextUpdate update in engine.StreamAsync(request)) updates.Add(update);

        Assert.Equal([1, 2, 3, 4, 5, 5], updates.Select(update => update.Step));
        Assert.All(updates, update => Assert.Equal(5, update.TotalSteps));
        Assert.Contains(IlgpuDiffusion.Data.Tokenizer.MaskText, updates[0].Texts[0], StringComparison.Ordinal);
        Assert.True(updates[^1].Final);
        Assert.Equal((await engine.CompleteAsync(request)).Texts, updates[^1].Texts);
    }

    public void Dispose() => _models.Dispose();
}
