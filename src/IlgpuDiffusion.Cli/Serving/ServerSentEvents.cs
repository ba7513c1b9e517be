using System.Text;
using System.Text.Json;

using Microsoft.AspNetCore.Http;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// Writes a streamed answer as server-sent events: each chunk as <c>data: {json}</c> and a blank line, flushed at once, and
/// <c>data: [DONE]</c> at the end, as OpenAI's API streams.
/// </summary>
internal sealed class ServerSentEvents(HttpResponse response)
{
    private static readonly byte[] Done = Encoding.UTF8.GetBytes("data: [DONE]\n\n");
    private bool _started;

    /// <summary>Whether the status line and headers went out (an error can no longer change the status).</summary>
    public bool Started => _started;

    /// <summary>Writes one chunk.</summary>
    public async Task WriteAsync<T>(T chunk, CancellationToken cancellationToken)
    {
        Start();
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(chunk, ServingJson.Options);
        await response.Body.WriteAsync("data: "u8.ToArray(), cancellationToken);
        await response.Body.WriteAsync(json, cancellationToken);
        await response.Body.WriteAsync("\n\n"u8.ToArray(), cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    /// <summary>Ends the stream with <c>data: [DONE]</c>.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        Start();
        await response.Body.WriteAsync(Done, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    private void Start()
    {
        if (_started) return;
        _started = true;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
    }
}
