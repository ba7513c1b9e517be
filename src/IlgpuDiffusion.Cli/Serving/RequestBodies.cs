using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>Reads a request's JSON body, turning every way it can be wrong into a 400 or 413 that says what.</summary>
internal static class RequestBodies
{
    /// <summary>The body of <paramref name="request"/> as <typeparamref name="T"/>.</summary>
    /// <exception cref="ApiException">The body is not JSON, not an object of the expected fields, or over the size limit.</exception>
    public static async Task<T> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken) where T : class
    {
        try
        {
            T? body = await JsonSerializer.DeserializeAsync<T>(request.Body, ServingJson.Options, cancellationToken);
            return body ?? throw new ApiException(StatusCodes.Status400BadRequest, "The request body is null; send a JSON object.");
        }
        catch (JsonException e) when (e.Path is { Length: > 2 } path)
        {
            string field = path.TrimStart('$', '.');
            throw ApiException.Invalid(field, $"The field '{field}' has a value of the wrong type or range, or the JSON " +
                $"is cut off there (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }
        catch (JsonException e)
        {
            throw new ApiException(StatusCodes.Status400BadRequest, "The request body is not a JSON object " +
                $"(line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(e.StatusCode, $"The request body is over the server's limit of {ServerOptions.MaxBodyBytes} bytes.",
                code: "request_too_large");
        }
    }
}
