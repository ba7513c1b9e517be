using IlgpuDiffusion.Serving;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>The batching engine over a GPT model: seeds, batches of one prompt length, token streaming.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class GptEngineTests : IDisposable
{
    private readonly ServingModels _models = new();

    [Fact]
    public async Task A_seeded_request_gives_the_texts_of_the_models_own_Generate()
    {
        using GptLanguageModel model = _models.Gpt();
        await using var engine = TextGenerationEngine.ForGpt(model);

        TextCompletion completion = await engine.CompleteAsync(new TextRequest { Prompt = "ab", MaxTokens = 9, Samples = 3, Seed = 3 });

        IReadOnlyList<string> expected = model.Generate("ab", new GenerationOptions { Samples = 3, Seed = 3, Length = 12 });
        Assert.Equal(expected, completion.Texts.Select(text => "ab" + text));
        Assert.Equal(3, completion.PromptTokens);
        Assert.InRange(completion.CompletionTokens, 3, 27);
        Assert.Equal(3, completion.FinishReasons.Count);
        Assert.Equal(completion.FinishReasons.All(reason => reason == "stop") ? "stop" : "length", completion.FinishReason);
        Assert.False(engine.IsDiffusion);
        Assert.Equal(16, engine.MaxLength);
    }

    [Fact]
    public async Task Concurrent_seedless_requests_of_one_prompt_length_share_a_batch_and_all_complete()
    {
        using GptLanguageModel model = _models.Gpt();
        await using var engine = TextGenerationEngine.ForGpt(model);

        TextCompletion[] completions = await Task.WhenAll(Enumerable.Range(0, 8)
            .Select(i => engine.CompleteAsync(new TextRequest { Prompt = i % 2 == 0 ? "ab" : "cd", MaxTokens = 8 })));

        Assert.All(completions, completion => Assert.Single(completion.Texts));
        Assert.All(completions, completion => Assert.Contains(completion.FinishReason, new[] { "stop", "length" }));
        Assert.Equal(8, engine.Statistics.Requests);
        Assert.True(engine.Statistics.Batches < 8, $"{engine.Statistics}");
    }

    [Fact]
    public async Task A_stream_yields_the_text_after_every_token_then_the_final_texts()
    {
        using GptLanguageModel model = _models.Gpt();
        await using var engine = TextGenerationEngine.ForGpt(model);
        var request = new TextRequest { Prompt = "ab", MaxTokens = 6, Seed = 8, Temperature = 0f };

        var updates = new List<TextUpdate>();
        await foreach (TextUpdate update in engine.StreamAsync(request)) updates.Add(update);

        Assert.Equal(Enumerable.Range(1, updates.Count - 1), updates.SkipLast(1).Select(update => update.Step));
        Assert.All(updates, update => Assert.Equal(6, update.TotalSteps));
        Assert.True(updates[^1].Final);
        Assert.Equal((await engine.CompleteAsync(request)).Texts, updates[^1].Texts);
        Assert.Equal(updates[^1].Texts, updates[^1].Completion!.Texts);
    }

    public void Dispose() => _models.Dispose();
}
