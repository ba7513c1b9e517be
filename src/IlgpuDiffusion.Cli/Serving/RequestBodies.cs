using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// Reads a request's JSON body, turning every way it can be wrong into a 400 that says what (a body over the size limit
/// fails with Kestrel's <see cref="BadHttpRequestException"/>, which <see cref="ApiErrors"/> answers 413).
/// </summary>
internal static class RequestBodies
{
    /// <summary>The body of <paramref name="request"/> as <typeparamref name="T"/>.</summary>
    /// <exception cref="ApiException">The body is not JSON, or not an object of the expected fields.</exception>
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
    }
}
