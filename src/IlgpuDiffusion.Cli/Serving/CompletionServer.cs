using IlgpuDiffusion.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// The OpenAI-compatible HTTP server of <c>serve</c>: Kestrel with the routes of <see cref="ServingRoutes"/> in front of a
/// <see cref="TextGenerationEngine"/>. Tests start it in-process on port 0 and read the bound <see cref="Address"/>.
/// </summary>
internal sealed class CompletionServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CompletionServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The address the server listens on (<c>http://127.0.0.1:port</c>); the API is under <c>/v1</c>.</summary>
    public Uri Address { get; }

    /// <summary>Starts serving <paramref name="engine"/> (which stays the caller's to dispose).</summary>
    /// <exception cref="IOException">The address cannot be bound (a port in use).</exception>
    public static async Task<CompletionServer> StartAsync(TextGenerationEngine engine, ServerOptions options,
        CancellationToken cancellationToken = default)
    {
        // The content root is the tool's folder: no appsettings.json of the working directory changes the server.
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, CommandLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = ServerOptions.MaxBodyBytes);
        string host = options.Host.Contains(':', StringComparison.Ordinal) ? $"[{options.Host}]" : options.Host;
        builder.WebHost.UseUrls($"http://{host}:{options.Port}");
        WebApplication app = builder.Build();
        ServingRoutes.Map(app, engine, options);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new CompletionServer(app, new Uri(bound));
    }

    /// <summary>Stops accepting requests and lets those in flight finish (until <paramref name="cancellationToken"/>).</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Stops the server and frees it.</summary>
    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
