using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Tests.Cli;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Tests.LanguageModels;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary><c>serve</c> from the command line: a model folder served on a port until the command is cancelled (Ctrl+C).</summary>
[Collection(ConformanceCollection.Name)]
public sealed class ServeCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Theory]
    [InlineData("diffusion")]
    [InlineData("gpt")]
    public async Task Serve_answers_until_cancelled_then_stops_cleanly(string kind)
    {
        string folder = kind == "gpt"
            ? TinyLanguageModels.SaveGpt(TinyModels.Cpu, _temp.File("gpt"))
            : TinyLanguageModels.SaveDiffusion(TinyModels.Cpu, _temp.File("student"), samplingSteps: 4);
        int port = FreePort();
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var stop = new CancellationTokenSource();
        Task<int> serving = CliApplication.RunAsync(["serve", folder, "--port", $"{port}", "--device", "cpu", "--model-name", "tiny"],
            output, error, stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };

        string models = await WhenUp(http, serving);
        HttpResponseMessage completion = await http.PostAsync("/v1/completions", new StringContent(
            "{\"model\": \"tiny\", \"prompt\": \"hi\", \"max_tokens\": 3}", System.Text.Encoding.UTF8, "application/json"));
        string answer = await completion.Content.ReadAsStringAsync();
        await stop.CancelAsync();
        int exit = await serving.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("tiny", JsonDocument.Parse(models).RootElement.GetProperty("data")[0].GetProperty("id").GetString());
        Assert.True(completion.IsSuccessStatusCode, answer);
        Assert.Equal(JsonValueKind.String, JsonDocument.Parse(answer).RootElement.GetProperty("choices")[0]
            .GetProperty("text").ValueKind);
        var run = new CliResult(exit, output.ToString(), error.ToString());
        Assert.True(exit == CliApplication.Success, run.ToString());
        Assert.Contains($"at http://127.0.0.1:{port}/v1", run.Error);
        Assert.Contains("Stopped.", run.Error);
    }

    [Fact]
    public async Task Ctrl_C_stops_the_server_gracefully_with_its_statistics()
    {
        string folder = TinyLanguageModels.SaveDiffusion(TinyModels.Cpu, _temp.File("student"), samplingSteps: 4);
        int port = FreePort();
        using CliProcess child = CliProcess.Start("serve", folder, "--port", $"{port}", "--device", "cpu");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); !child.Output.Contains("Ctrl+C stops", StringComparison.Ordinal);)
        {
            Assert.False(child.HasExited || waited.Elapsed > TimeSpan.FromSeconds(90), $"serve did not start:\n{child.Output}");
            await Task.Delay(100);
        }
        HttpResponseMessage completion = await http.PostAsync("/v1/completions",
            new StringContent("{\"prompt\": \"hi\", \"max_tokens\": 3}", System.Text.Encoding.UTF8, "application/json"));
        Assert.True(completion.IsSuccessStatusCode, await completion.Content.ReadAsStringAsync());

        child.Interrupt();
        int exit = child.WaitForExit(TimeSpan.FromSeconds(60));

        Assert.True(exit == CliApplication.Success, $"exit {exit}:\n{child.Output}");
        Assert.Contains("Stopping the server once the requests in flight are answered", child.Output);
        Assert.Contains("Stopped. Served 1 requests (1 sequences) in 1 batches", child.Output);
    }

    [Fact]
    public async Task Steps_on_a_gpt_is_a_usage_error()
    {
        string folder = TinyLanguageModels.SaveGpt(TinyModels.Cpu, _temp.File("gpt"));

        CliResult run = await CliRunner.Run("serve", folder, "--steps", "4", "--port", "0");

        Assert.Equal(CliApplication.UsageError, run.ExitCode);
        Assert.Contains("--steps applies to diffusion models only", run.Error);
    }

    public void Dispose() => _temp.Dispose();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The model list once the server answers; fails if the command ends first.</summary>
    private static async Task<string> WhenUp(HttpClient http, Task<int> serving)
    {
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(60);)
        {
            Assert.False(serving.IsCompleted, $"serve ended with exit code {(serving.IsCompleted ? serving.Result : 0)}");
            try
            {
                return await http.GetStringAsync("/v1/models");
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }
        throw new TimeoutException("serve did not answer within 60 s");
    }
}
