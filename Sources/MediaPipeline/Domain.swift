// The domain types (sender, channel, media types, artifact roles, the rejection, settings) are part of the
// pipeline's own API: whoever imports the pipeline gets them.
@_exported import MediaDomain
