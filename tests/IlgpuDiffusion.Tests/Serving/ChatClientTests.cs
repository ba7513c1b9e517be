using IlgpuDiffusion.Serving;
using IlgpuDiffusion.Tests.Conformance;
using Microsoft.Extensions.AI;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>The engine as an <see cref="IChatClient"/>: the plain chat template, options, responses and streams.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class ChatClientTests : IDisposable
{
    private readonly ServingModels _models = new();

    [Fact]
    public void The_template_writes_each_turn_as_role_and_content_and_ends_with_the_assistant()
    {
        string fromMessages =
            ChatPromptTemplate.Render([new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "Hi")]);
        string fromPairs = ChatPromptTemplate.Render([("system", "Be brief."), ("user", "Hi")]);

        Assert.Equal("System: Be brief.\n\nUser: Hi\n\nAssistant:", fromMessages);
        Assert.Equal(fromMessages, fromPairs);
    }

    [Fact]
    public async Task A_response_is_the_engines_completion_of_the_rendered_prompt_with_the_options_mapped()
    {
        using DiffusionLanguageModel model = _models.Diffusion(length: 32);
        await using var engine = TextGenerationEngine.ForDiffusion(model, new TextEngineOptions { ModelName = "tiny" });
        using IChatClient client = new TextGenerationChatClient(engine);
        var options = new ChatOptions
        {
            MaxOutputTokens = 2,
            Seed = 6,
            Temperature = 0.5f,
            TopP = 0.9f,
            AdditionalProperties = new() { ["steps"] = 3 },
        };

        ChatResponse response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], options);

        TextCompletion expected = await engine.CompleteAsync(new TextRequest
        {
            Prompt = "User: Hi\n\nAssistant:",
            MaxTokens = 2,
            Seed = 6,
            Temperature = 0.5f,
            TopP = 0.9f,
            Steps = 3,
        });
        Assert.Equal(expected.Texts[0], response.Text);
        Assert.Equal((ChatFinishReason?)ChatFinishReason.Length, response.FinishReason);
        Assert.Equal((21L, 2L), (response.Usage!.InputTokenCount!.Value, response.Usage.OutputTokenCount!.Value));
        Assert.Equal("tiny", response.ModelId);
        Assert.Equal("tiny", client.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Same(engine, client.GetService<TextGenerationEngine>());
    }

    [Fact]
    public async Task Steps_that_are_not_a_number_are_refused_by_name()
    {
        using DiffusionLanguageModel model = _models.Diffusion(length: 32);
        await using var engine = TextGenerationEngine.ForDiffusion(model);
        using IChatClient client = new TextGenerationChatClient(engine);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")],
            new ChatOptions { AdditionalProperties = new() { ["steps"] = "many" } }));

        Assert.Equal("AdditionalProperties[\"steps\"] must be a whole number of denoising steps; got 'many'.", error.Message);
    }

    [Fact]
    public async Task A_diffusion_stream_is_one_update_with_the_finished_text_and_its_usage()
    {
        using DiffusionLanguageModel model = _models.Diffusion(length: 32);
        await using var engine = TextGenerationEngine.ForDiffusion(model);
        using IChatClient client = new TextGenerationChatClient(engine);
        var options = new ChatOptions { MaxOutputTokens = 3, Seed = 2 };
        ChatMessage[] messages = [new ChatMessage(ChatRole.User, "Hi")];

        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(messages, options)) updates.Add(update);

        ChatResponseUpdate single = Assert.Single(updates);
        Assert.Equal((await client.GetResponseAsync(messages, options)).Text, single.Text);
        Assert.Equal((ChatFinishReason?)ChatFinishReason.Length, single.FinishReason);
        Assert.Equal(3L, Assert.Single(single.Contents.OfType<UsageContent>()).Details.OutputTokenCount);
    }

    [Fact]
    public async Task A_gpt_stream_yields_the_new_text_of_each_token_and_adds_up_to_the_response()
    {
        using GptLanguageModel model = _models.Gpt(length: 32);
        await using var engine = TextGenerationEngine.ForGpt(model);
        using IChatClient client = new TextGenerationChatClient(engine);
        var options = new ChatOptions { MaxOutputTokens = 6, Seed = 4, Temperature = 0f };
        ChatMessage[] messages = [new ChatMessage(ChatRole.User, "a")];

        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(messages, options)) updates.Add(update);

        Assert.True(updates.Count > 1);
        Assert.Equal((await client.GetResponseAsync(messages, options)).Text, updates.ToChatResponse().Text);
        Assert.NotNull(updates[^1].FinishReason);
    }

    public void Dispose() => _models.Dispose();
}
