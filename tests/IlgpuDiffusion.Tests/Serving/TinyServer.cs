using System.Net.Http.Json;
using System.Text.Json;
using IlgpuDiffusion.Cli.Serving;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Serving;
using IlgpuDiffusion.Tests.LanguageModels;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>
/// The serve command's server in-process on 127.0.0.1 and a free port, in front of a random tiny diffusion model over the
/// byte tokenizer (L 64, room for a chat prompt) that denoises in <see cref="Steps"/> steps unless a request names its own.
/// </summary>
internal sealed class TinyServer : IAsyncDisposable
{
    /// <summary>The served model's name.</summary>
    public const string ModelName = "tiny-mdlm";

    /// <summary>Denoising steps of requests that name none.</summary>
    public const int Steps = 4;

    private readonly Dit _dit;

    private TinyServer(Dit dit, DiffusionLanguageModel model, TextGenerationEngine engine, CompletionServer server)
    {
        _dit = dit;
        Model = model;
        Engine = engine;
        Server = server;
        Http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>The served model, for comparing with its own <c>Generate</c>.</summary>
    public DiffusionLanguageModel Model { get; }

    /// <summary>The engine behind the server.</summary>
    public TextGenerationEngine Engine { get; }

    /// <summary>The running server.</summary>
    public CompletionServer Server { get; }

    /// <summary>A client of the server's address.</summary>
    public HttpClient Http { get; }

    /// <summary>The API's base address (<c>http://127.0.0.1:port/v1</c>), as OpenAI clients take it.</summary>
    public Uri ApiAddress => new(Server.Address, "v1");

    /// <summary>Starts a server; <paramref name="maxBatch"/> and <paramref name="maxQueue"/> go to the engine.</summary>
    public static async Task<TinyServer> StartAsync(int maxBatch = 16, int maxQueue = 64)
    {
        var dit = new Dit(TinyLanguageModels.Dit with { Length = 64 }, TinyModels.Cpu, withGradients: false);
        TinyModels.Randomize(dit.Parameters, seed: 7);
        var model = new DiffusionLanguageModel(dit);
        var engine = TextGenerationEngine.ForDiffusion(model,
            new TextEngineOptions { MaxBatch = maxBatch, MaxQueue = maxQueue, ModelName = ModelName });
        CompletionServer server = await CompletionServer.StartAsync(engine,
            new ServerOptions(Port: 0, MaxBatch: maxBatch, DefaultSteps: Steps));
        return new TinyServer(dit, model, engine, server);
    }

    /// <summary>POSTs <paramref name="body"/> as JSON to <paramref name="route"/>.</summary>
    public Task<HttpResponseMessage> PostAsync(string route, object body) => Http.PostAsJsonAsync(route, body);

    /// <summary>POSTs raw <paramref name="json"/> to <paramref name="route"/>.</summary>
    public Task<HttpResponseMessage> PostRawAsync(string route, string json) =>
        Http.PostAsync(route, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    /// <summary>The JSON of an answer.</summary>
    public static async Task<JsonElement> JsonOf(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    /// <summary>The chunks of a server-sent event stream, up to <c>[DONE]</c> (which must come).</summary>
    public static async Task<List<JsonElement>> EventsOf(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        string[] events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        Assert.All(events, e => Assert.StartsWith("data: ", e, StringComparison.Ordinal));
        return [.. events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement)];
    }

    /// <summary>Stops the server, then frees the engine and the model.</summary>
    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Engine.Dispose();
        Model.Dispose();
        _dit.Dispose();
    }
}
