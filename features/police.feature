Feature: Requests from the police
  A police request is not direct care. Records go to the police when a court order (or a
  statute) requires it, after the Caldicott Guardian has checked it. Every other request is
  refused by front-line staff and referred to the Caldicott Guardian.

  Scenario: Scenario 11: A routine police request is refused and referred
    Given a police officer at Northgate Constabulary
    When they ask Northgate Hospitals for the discharge summary for law enforcement
    Then sharing is not permitted
    And the reason mentions "refer the request to your Caldicott Guardian"
    And the details mention "court order"
    And they must consult the Caldicott Guardian
    And the deciding rule is ntg-police/refer-to-caldicott-guardian
    # The person's explicit consent to the disclosure is a basis (UK GDPR 9(2)(a), common
    # law: explicit consent), so the decision now says so.
    And it would be permitted if the consent is explicit

  Scenario: Scenario 12: A court order requires disclosure
    Given a police officer at Northgate Constabulary
    When they ask Northgate Hospitals for the discharge summary for a legal obligation
    Then sharing is permitted
    And the legal basis includes Article 6(1)(c)
    And the legal basis includes legal requirement
    And they must consult the Caldicott Guardian
    And they must verify the requester's identity
    And the deciding rule is ntg-police/court-order

  Scenario: A court order reaches a restricted record
    Given a police officer at Northgate Constabulary
    When they ask Riverside Medical Practice for the gender history for legal obligation
    Then sharing is permitted
    And rule restriction:gender-history is overridden
    And the deciding rule is ntg-restricted/court-order
    And the legal basis includes Gender Recognition Act 2004 section 22(4)

  # Adoption Agencies Regulations 2005 regs 41-42: the restriction binds first, so the
  # decision names it (it used to name the referral rule; the answer is the same).
  Scenario: A routine police request for an adoption record is refused
    Given a police officer at Northgate Constabulary
    When they ask Northgate City Council for the adoption record for law enforcement
    Then sharing is not permitted
    And the deciding rule is restriction:adoption-record
    And the details mention "imposed by statute: Adoption Agencies Regulations 2005"

  Scenario: The police have no part in direct care
    Given a police officer at Northgate Constabulary
    When they ask Castle Street Surgery for the GP summary for direct care
    Then sharing is not permitted
    And no agreement covers it

  Scenario Outline: Routine police requests to every care organisation are referred (<holder>)
    Given a police officer at Northgate Constabulary
    When they ask <holder> for the <record> for law enforcement
    Then sharing is not permitted
    And they must consult the Caldicott Guardian

    Examples:
      | holder                     | record               |
      | Riverside Medical Practice | GP summary           |
      | Northgate Mental Health    | mental health record |
      | Northgate City Council     | risk assessment      |
      | Northgate Community Health | care plan            |
