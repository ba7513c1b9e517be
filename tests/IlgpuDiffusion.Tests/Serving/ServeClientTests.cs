using System.ClientModel;
using System.Text.Json;
using IlgpuDiffusion.Tests.Conformance;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Models;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>The serve command's server through the official OpenAI client and raw HTTP: answers in OpenAI's shapes.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class ServeClientTests
{
    private static OpenAIClient Client(TinyServer server) =>
        new(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.ApiAddress });

    [Fact]
    public async Task The_model_list_names_the_served_model()
    {
        await using TinyServer server = await TinyServer.StartAsync();

        OpenAIModelCollection models = await Client(server).GetOpenAIModelClient().GetModelsAsync();

        OpenAIModel model = Assert.Single(models);
        Assert.Equal(TinyServer.ModelName, model.Id);
        Assert.Equal("ilgpu-diffusion", model.OwnedBy);
    }

    [Fact]
    public async Task Chat_through_the_OpenAI_client_answers_whole_and_streamed()
    {
        await using TinyServer server = await TinyServer.StartAsync();
        IChatClient chat = Client(server).GetChatClient(TinyServer.ModelName).AsIChatClient();
        var options = new ChatOptions { Seed = 3, MaxOutputTokens = 4, Temperature = 0.8f };

        ChatResponse response = await chat.GetResponseAsync("hi", options);

        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.False(string.IsNullOrEmpty(response.Text));
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.NotNull(response.Usage);
        Assert.True(response.Usage.InputTokenCount > 0);
        var streamed = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate update in chat.GetStreamingResponseAsync("hi", options)) streamed.Add(update);
        Assert.Equal(response.Text, string.Concat(streamed.Select(update => update.Text)));
        Assert.Equal(ChatFinishReason.Length, streamed.Last(update => update.FinishReason is not null).FinishReason);
        UsageContent usage = Assert.Single(streamed.SelectMany(update => update.Contents).OfType<UsageContent>());
        Assert.Equal(response.Usage.TotalTokenCount, usage.Details.TotalTokenCount);
    }

    [Fact]
    public async Task A_completion_with_a_seed_is_the_models_own_generation_without_the_prompt()
    {
        await using TinyServer server = await TinyServer.StartAsync();

        HttpResponseMessage response = await server.PostAsync("/v1/completions",
            new { model = TinyServer.ModelName, prompt = "ab", n = 2, seed = 3, steps = 5 });

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        JsonElement answer = await TinyServer.JsonOf(response);
        IReadOnlyList<string> expected = server.Model.Generate("ab", new GenerationOptions { Samples = 2, Seed = 3, Steps = 5 });
        Assert.Equal("text_completion", answer.GetProperty("object").GetString());
        Assert.Equal(TinyServer.ModelName, answer.GetProperty("model").GetString());
        Assert.Equal(expected.Select(text => text["ab".Length..]),
            answer.GetProperty("choices").EnumerateArray().Select(choice => choice.GetProperty("text").GetString()));
        Assert.Equal([0, 1], answer.GetProperty("choices").EnumerateArray().Select(choice => choice.GetProperty("index").GetInt32()));
        JsonElement usage = answer.GetProperty("usage");
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(),
            usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_completion_sends_the_final_text_or_every_denoising_state()
    {
        await using TinyServer server = await TinyServer.StartAsync();
        var request = new { prompt = new[] { "ab" }, seed = 4, stream = true };
        HttpResponseMessage whole = await server.PostAsync("/v1/completions", request with { stream = false });
        string expected = (await TinyServer.JsonOf(whole)).GetProperty("choices")[0].GetProperty("text").GetString()!;

        List<JsonElement> final = await TinyServer.EventsOf(await server.PostAsync("/v1/completions", request));
        List<JsonElement> states = await TinyServer.EventsOf(await server.PostAsync("/v1/completions",
            new { prompt = "ab", seed = 4, stream = true, stream_states = true }));
        List<JsonElement> counted = await TinyServer.EventsOf(await server.PostAsync("/v1/completions",
            new { prompt = "ab", seed = 4, stream = true, stream_options = new { include_usage = true } }));

        JsonElement only = Assert.Single(final);
        Assert.Equal(expected, only.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("length", only.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(TinyServer.Steps + 1, states.Count);
        Assert.Contains(IlgpuDiffusion.Data.Tokenizer.MaskText, states[0].GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(JsonValueKind.Null, states[0].GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
        Assert.Equal(expected, states[^1].GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(2, counted.Count);
        Assert.Equal(0, counted[1].GetProperty("choices").GetArrayLength());
        Assert.Equal((await TinyServer.JsonOf(whole)).GetProperty("usage").GetRawText(), counted[1].GetProperty("usage").GetRawText());
    }
}
