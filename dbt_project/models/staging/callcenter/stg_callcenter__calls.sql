with

source as (

    select * from {{ source('raw', 'callcenter_calls') }}

),

renamed as (

    -- A call is extracted once; should a file be delivered twice, keep the latest load.
    select distinct on (call_id)
        call_id,
        contact_id,
        agent_id,
        -- The CSV holds the call center's local time; make it an instant.
        called_at at time zone '{{ var("callcenter_timezone") }}' as called_at,
        called_at as local_called_at,
        nullif(btrim(caller_name), '') as caller_name,
        nullif(btrim(phone), '') as phone,
        nullif(btrim(email), '') as email,
        lower(reason) as reason,
        duration_seconds,
        satisfaction as satisfaction_score,
        is_complaint,
        lower(resolution) as resolution,
        _batch_id as load_batch_id,
        _source_file as source_file,
        _line_number as source_line_number

    from source
    where call_id is not null
    order by call_id, _batch_id desc, _line_number desc

)

select * from renamed
