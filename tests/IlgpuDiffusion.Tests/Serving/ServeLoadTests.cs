using System.Diagnostics;
using System.Text.Json;
using IlgpuDiffusion.Serving;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>The server under concurrent load, and a client that goes away mid-stream.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class ServeLoadTests
{
    [Fact]
    public async Task Sixty_four_requests_from_sixteen_clients_are_all_answered_in_shared_batches()
    {
        await using TinyServer server = await TinyServer.StartAsync();
        var clock = Stopwatch.StartNew();

        string[][] answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(async client =>
        {
            using var http = new HttpClient { BaseAddress = server.Server.Address, Timeout = TimeSpan.FromSeconds(90) };
            var texts = new List<string>();
            for (int request = 0; request < 4; request++)
            {
                HttpResponseMessage response = await http.PostAsync("/v1/completions", JsonContent());
                string body = await response.Content.ReadAsStringAsync();
                Assert.True(response.IsSuccessStatusCode, body);
                texts.Add(JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!);
            }
            return texts.ToArray();
        }));

        Assert.Equal(64, answers.Sum(texts => texts.Length));
        TextEngineStatistics statistics = server.Engine.Statistics;
        Assert.Equal(64, statistics.Requests);
        Assert.True(statistics.ModelPasses < 64 * TinyServer.Steps, $"{statistics}: no batching");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{clock.Elapsed} for 64 requests");
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_frees_its_slot()
    {
        await using TinyServer server = await TinyServer.StartAsync(maxBatch: 1, maxQueue: 1);
        using (var cancellation = new CancellationTokenSource())
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
            {
                Content = new StringContent("{\"prompt\": \"a\", \"steps\": 100000, \"stream\": true, \"stream_states\": true}",
                    System.Text.Encoding.UTF8, "application/json"),
            };
            HttpResponseMessage response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead,
                cancellation.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation.Token));
            Assert.StartsWith("data: ", await reader.ReadLineAsync(cancellation.Token), StringComparison.Ordinal);
            await cancellation.CancelAsync();
            response.Dispose();
        }

        var clock = Stopwatch.StartNew();
        HttpResponseMessage next = await server.PostAsync("/v1/completions", new { prompt = "a", max_tokens = 3 });

        Assert.True(next.IsSuccessStatusCode, await next.Content.ReadAsStringAsync());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the next request waited {clock.Elapsed}");
        Assert.Equal(0, server.Engine.QueueLength);
    }

    /// <summary>A request without a seed: requests with one run alone, to give the model's own texts for it.</summary>
    private static StringContent JsonContent() =>
        new("{\"prompt\": \"a\", \"max_tokens\": 4}", System.Text.Encoding.UTF8, "application/json");
}
