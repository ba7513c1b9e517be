using System.Net;
using System.Text.Json;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>
/// Every refused request gets its status and an OpenAI-style error object that names what is wrong, and the server goes on
/// serving.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class ServeErrorTests
{
    public static TheoryData<string, string, HttpStatusCode, string?, string> Refused => new()
    {
        { "/v1/completions", "{\"prompt\": \"a\",", HttpStatusCode.BadRequest, null, "not a JSON object" },
        { "/v1/completions", "[1, 2]", HttpStatusCode.BadRequest, null, "not a JSON object" },
        { "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": \"many\"}", HttpStatusCode.BadRequest, "max_tokens", "wrong type" },
        { "/v1/completions", "{\"prompt\": 5}", HttpStatusCode.BadRequest, "prompt", "must be a string" },
        { "/v1/completions", "{\"prompt\": [\"a\", \"b\"]}", HttpStatusCode.BadRequest, "prompt", "array of 2" },
        { "/v1/completions", $"{{\"prompt\": \"{new string('a', 70)}\"}}", HttpStatusCode.BadRequest, "prompt",
            "The prompt takes 71 tokens" },
        { "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 0}", HttpStatusCode.BadRequest, "max_tokens", "at least 1" },
        { "/v1/completions", "{\"prompt\": \"a\", \"temperature\": -0.5}", HttpStatusCode.BadRequest, "temperature", "≥ 0" },
        { "/v1/completions", "{\"prompt\": \"a\", \"top_p\": 0}", HttpStatusCode.BadRequest, "top_p", "(0, 1]" },
        { "/v1/completions", "{\"prompt\": \"a\", \"top_p\": 1.5}", HttpStatusCode.BadRequest, "top_p", "(0, 1]" },
        { "/v1/completions", "{\"prompt\": \"a\", \"n\": 17}", HttpStatusCode.BadRequest, "n", "[1, 16]" },
        { "/v1/completions", "{\"prompt\": \"a\", \"steps\": 0}", HttpStatusCode.BadRequest, "steps", "at least 1" },
        { "/v1/completions", "{\"prompt\": \"a\", \"seed\": -1}", HttpStatusCode.BadRequest, "seed", "wrong type" },
        { "/v1/completions", "{\"model\": \"gpt-4o\", \"prompt\": \"a\"}", HttpStatusCode.NotFound, "model", "'gpt-4o' does not exist" },
        { "/v1/chat/completions", "{\"messages\": []}", HttpStatusCode.BadRequest, "messages", "non-empty" },
        { "/v1/chat/completions", "{\"messages\": [{\"content\": \"hi\"}]}", HttpStatusCode.BadRequest, "messages[0].role", "no role" },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
            HttpStatusCode.BadRequest, "messages[0].content", "text only" },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_completion_tokens\": -3}",
            HttpStatusCode.BadRequest, "max_completion_tokens", "at least 1" },
        { "/v1/embeddings", "{}", HttpStatusCode.NotFound, null, "no route POST /v1/embeddings" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_refused_request_gets_its_status_and_error_object_and_the_server_goes_on(string route, string body,
        HttpStatusCode status, string? param, string message)
    {
        await using TinyServer server = await TinyServer.StartAsync();

        HttpResponseMessage response = await server.PostRawAsync(route, body);

        await AssertError(response, status, param, message);
        await AssertServes(server);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_and_the_server_goes_on()
    {
        await using TinyServer server = await TinyServer.StartAsync();

        // Expect: 100-continue, as a client sending a large body should: Kestrel answers 413 from the declared length before
        // the body is sent and then closes the connection, which a client still writing the body meets as a broken pipe.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent($"{{\"prompt\": \"{new string('a', 2 << 20)}\"}}", System.Text.Encoding.UTF8,
                "application/json"),
        };
        request.Headers.ExpectContinue = true;
        HttpResponseMessage response = await server.Http.SendAsync(request);

        await AssertError(response, HttpStatusCode.RequestEntityTooLarge, null, "over the server's limit");
        await AssertServes(server);
    }

    [Fact]
    public async Task A_full_queue_is_429_and_the_server_goes_on()
    {
        await using TinyServer server = await TinyServer.StartAsync(maxBatch: 1, maxQueue: 1);
        var slow = new { prompt = "a", steps = 200 };

        HttpResponseMessage[] responses = await Task.WhenAll(
            Enumerable.Range(0, 6).Select(_ => server.PostAsync("/v1/completions", slow)));

        HttpResponseMessage busy = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        JsonElement error = (await TinyServer.JsonOf(busy)).GetProperty("error");
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        Assert.Equal("queue_full", error.GetProperty("code").GetString());
        Assert.All(responses, r => Assert.True(r.IsSuccessStatusCode || r.StatusCode == HttpStatusCode.TooManyRequests));
        await AssertServes(server);
    }

    private static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string? param, string message)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{response.StatusCode}: {text}");
        JsonElement error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
    }

    private static async Task AssertServes(TinyServer server)
    {
        HttpResponseMessage response = await server.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 3 });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
