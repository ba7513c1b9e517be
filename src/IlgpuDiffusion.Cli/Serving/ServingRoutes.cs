using IlgpuDiffusion.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>The routes of the server: <c>GET /v1/models</c>, the two completion routes, and a JSON 404 for the rest.</summary>
internal static class ServingRoutes
{
    /// <summary>Maps the routes onto <paramref name="app"/>.</summary>
    public static void Map(WebApplication app, TextGenerationEngine engine, ServerOptions options)
    {
        long started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var completions = new CompletionEndpoint(engine, options);
        var chat = new ChatEndpoint(engine, options);
        app.MapGet("/v1/models", () => Results.Json(
            new ModelList("list", [new ModelCard(engine.ModelName, "model", started, "ilgpu-diffusion")]), ServingJson.Options));
        app.MapPost("/v1/completions", context => ApiErrors.GuardAsync(context, completions.HandleAsync));
        app.MapPost("/v1/chat/completions", context => ApiErrors.GuardAsync(context, chat.HandleAsync));
        app.MapFallback(ApiErrors.UnknownRouteAsync);
    }
}
