using Microsoft.Extensions.Hosting;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// The server's host lifetime: none of its own. The command owns Ctrl+C and SIGTERM (Program and
/// <see cref="Runs.Interruption"/>): the first stops the server gracefully, a second ends the process, which ASP.NET's
/// console lifetime would otherwise prevent by handling the signals itself.
/// </summary>
internal sealed class CommandLifetime : IHostLifetime
{
    /// <inheritdoc/>
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
